"""Training data: the synthetic corpus, manifests, codec-code shards and data preparation.

Modules (import them directly; this package imports nothing heavy):

* ``sentences`` — the generated English sentence list (train / held-out by text hash);
* ``synth`` — ``synth_corpus``: espeak-ng (and optional Piper) multi-speaker corpus;
* ``manifest`` — JSONL / CSV / folder manifests → ``ManifestEntry`` list;
* ``shards`` — the on-disk shard format, its atomic writer and the ``CodeShards`` reader;
* ``prepare`` — ``prepare_dataset``: audio → codec codes → shards, resumable, rank-sharded;
* ``import_official`` — the official pre-tokenised memmap → our shards.
"""
