"""The README's first example (tests/cli/test_sync_scripts.py keeps the two equal)."""

from viesus import EnhanceOptions, Viesus

# api_key / endpoint default to VIESUS_API_KEY / VIESUS_ENDPOINT (live API by default)
with Viesus(api_key="local", endpoint="http://127.0.0.1:8765/graphql") as viesus:
    result = viesus.enhance("photo.jpg", EnhanceOptions(upscaling_factor="X2"), out_dir="out")
    print(result.status, result.output_path, result.job_id, result.credits)

    for item in viesus.enhance_many(
        ["photo.jpg"],  # paths or http(s) URLs
        EnhanceOptions(mode="ENHANCE"),
        out_dir="out2",
        journal="out2/.viesus-journal.sqlite",  # rerun after a crash: nothing is paid twice
        max_credits=50,  # refuse before spending if the batch costs more
        progress=True,  # a bar, in a terminal or a notebook
    ):
        print(item)  # EnhanceResult(source='photo.jpg', status=...)

    job = viesus.wait(result.job_id, timeout=300)  # FINISHED, or EnhancementFailed / WaitTimeout
    print(job.status, viesus.credits())
