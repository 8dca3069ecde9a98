"""PDFs in the emulator: analysis, pricing and rewriting of the embedded images (private).

``records`` (state, limits, eligibility rule; no PDF library), ``scan`` (reading a PDF),
``pixels`` (bounded image decoding, writing back), ``pricing`` (estimates), ``analysis``
(queue, ``analyzePdf``), ``jobs`` + ``rewrite`` (the enhancement).
"""
