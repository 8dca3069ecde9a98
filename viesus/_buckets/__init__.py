"""S3-compatible buckets as sources and destination (the ``buckets`` extra, obstore).

``enhance_many(["s3://bucket/in/"], out_dir="s3://bucket/enhanced/")``: a source ending in
``/`` is every image under that prefix, ``s3://bucket/key`` one object; the service fetches
each from a presigned GET URL, and the outputs are streamed into the ``out_dir`` prefix
(``EnhanceResult.output_url``), the tree under the sources' common prefix mirrored. Local
files and URLs mix freely. Credentials and endpoint: the AWS_* environment variables, else
the ``AWS_PROFILE`` profile of ``~/.aws``.

``locations``: what an ``s3://`` source or output is (no dependency); ``profiles``: the
settings from the environment and the shared files; ``store``: the bucket client and its
errors in words; ``run``: what one batch needs from its buckets (the
objects listed, presigned GET URLs for the service, the destination written by streaming).
"""
