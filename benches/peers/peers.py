"""The peers' bare top-10 query over the corpus `techmarket gen` wrote, tokenized by the
project's own analyzer (benches/search.rs `gen DIR --tokens` writes DIR/peer-docs.txt and
DIR/peer-queries.txt), so the engines are compared on the same tokens:

- bm25s (numpy sparse matrices; one text field; the query's de-duplicated terms);
- tantivy-py (the Python binding of the engine techmarket uses; one text field indexed with the
  whitespace tokenizer; a flat OR of term queries, so block-max WAND applies).

Each engine answers every query once to warm up, then three measured passes; the median of the
passes' p50 and p99 is printed as a RESULT line.

    python3 benches/peers/peers.py DIR
"""

import statistics
import sys
import tempfile
import time


def percentile(sorted_times, p):
    return sorted_times[round((len(sorted_times) - 1) * p)]


def measure(name, run, queries, count):
    passes = []
    for pass_no in range(4):
        times = []
        for q in queries:
            started = time.perf_counter()
            run(q)
            times.append((time.perf_counter() - started) * 1e3)
        times.sort()
        if pass_no > 0:
            passes.append((percentile(times, 0.5), percentile(times, 0.99)))
            print(f"{name} pass {pass_no}: p50 {passes[-1][0]:.2f} ms p99 {passes[-1][1]:.2f} ms", flush=True)
    p50 = statistics.median(p[0] for p in passes)
    p99 = statistics.median(p[1] for p in passes)
    print(f"RESULT {name} docs={count} queries={len(queries)} p50={p50:.2f} p99={p99:.2f}", flush=True)


def main():
    folder = sys.argv[1]
    # Interned, so that a million documents' words share their strings.
    with open(f"{folder}/peer-docs.txt", encoding="utf-8") as f:
        docs = [[sys.intern(w) for w in line.split()] for line in f]
    with open(f"{folder}/peer-queries.txt", encoding="utf-8") as f:
        queries = [line.split() for line in f if line.strip()]
    print(f"{len(docs)} documents, {len(queries)} queries", flush=True)

    import bm25s

    started = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(docs, show_progress=False)
    print(f"bm25s: indexed in {time.perf_counter() - started:.1f} s", flush=True)
    vocab = retriever.vocab_dict
    # Terms the corpus lacks are left out of the query, as bm25s requires.
    known = [[t for t in q if t in vocab] or [next(iter(vocab))] for q in queries]
    measure(
        "bm25s",
        lambda q: retriever.retrieve([q], k=10, show_progress=False, n_threads=1),
        known,
        len(docs),
    )
    del retriever

    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace")
    schema = builder.build()
    with tempfile.TemporaryDirectory() as path:
        index = tantivy.Index(schema, path=path)
        started = time.perf_counter()
        writer = index.writer(heap_size=200_000_000, num_threads=1)
        for words in docs:
            writer.add_document(tantivy.Document(body=" ".join(words)))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        print(f"tantivy-py: indexed in {time.perf_counter() - started:.1f} s", flush=True)
        searcher = index.searcher()

        def query(words):
            clauses = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", w)) for w in words]
            return searcher.search(tantivy.Query.boolean_query(clauses), 10).hits

        measure("tantivy-py", query, queries, len(docs))


if __name__ == "__main__":
    main()
