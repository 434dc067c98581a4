"""The compliance pack: ``vendorwall evidence INVENTORY --period 2026-Q4 --out DIR [--lang fr]``.

For an auditor (ISO/IEC 27001, NIS2, HDS, ANSSI, CNIL): the measures vendorwall enforces, each with its
evidence (counts, dates, journal hashes, sample results) and its gaps, mapped to the frameworks; an HTML
page, a print-ready HTML page (and a PDF when headless Chromium is there), and the raw CSV/JSON the pack
was built from. Deterministic: ``--now`` is an input; the same state and inventory give the same bytes.

- :mod:`.collect`: the figures (pure);
- :mod:`.texts`: the words in English and French, the mapping to the frameworks;
- :mod:`.render`: HTML, CSV, JSON, PDF;
- :mod:`.cli`: the command.
"""
