"""The judged query set (benches/search-judged.jsonl) answered by tantivy-py's default query over
the same tokens as techmarket's index: `techmarket search-eval --peer-dir DIR` writes the
catalogue (DIR/docs.jsonl: each record's title, library, field, region, TRL and the analyzer's
tokens of its title, keywords and body, sub-words included) and the queries (DIR/queries.jsonl,
with their tokens); this script indexes the tokens in one field with the whitespace tokenizer,
parses each query's tokens with tantivy's query parser (its default: any term, BM25), applies
the query's filters (library, field, region prefix, TRL range) to the ranking, and scores the
first ten against the judged titles as techmarket's command does.

    bash benches/search_judged.sh          # both, in one run
    python3 benches/peers/search_judged.py DIR
"""

import json
import sys
import tempfile


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def passes(doc, q):
    if q.get("library") and doc["library"] != q["library"]:
        return False
    if q.get("field") and doc["field"] != q["field"]:
        return False
    if q.get("region") and not doc["region"].startswith(q["region"]):
        return False
    if q.get("trl_min") is not None or q.get("trl_max") is not None:
        if doc["trl"] is None:
            return False
        if not (q.get("trl_min") or 1) <= doc["trl"] <= (q.get("trl_max") or 9):
            return False
    return True


def main():
    folder = sys.argv[1]
    docs = load(f"{folder}/docs.jsonl")
    queries = load(f"{folder}/queries.jsonl")

    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace")
    builder.add_integer_field("n", stored=True, indexed=True, fast=True)
    schema = builder.build()
    sums = {"p5": 0.0, "r10": 0.0, "rr": 0.0, "zero": 0}
    with tempfile.TemporaryDirectory() as path:
        index = tantivy.Index(schema, path=path)
        writer = index.writer(heap_size=50_000_000, num_threads=1)
        for n, doc in enumerate(docs):
            writer.add_document(tantivy.Document(body=" ".join(doc["tokens"]), n=n))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        searcher = index.searcher()
        for q in queries:
            text = " ".join('"' + t.replace('"', "") + '"' for t in q["tokens"])
            ranked = []
            if text:
                query = index.parse_query(text, ["body"])
                for _, address in searcher.search(query, len(docs)).hits:
                    doc = docs[searcher.doc(address)["n"][0]]
                    if passes(doc, q):
                        ranked.append(doc["title"])
            top = ranked[:10]
            relevant = set(q["relevant"])
            sums["p5"] += sum(t in relevant for t in top[:5]) / 5
            sums["r10"] += sum(t in relevant for t in top) / len(relevant) if relevant else 1.0
            sums["rr"] += next((1 / (i + 1) for i, t in enumerate(top) if t in relevant), 0.0)
            sums["zero"] += not ranked
            missed = sorted(relevant - set(top))
            if missed or not ranked:
                print(f"{q['q']}\ttotal {len(ranked)}\tmissed: {'、'.join(missed)}\ttop: {' | '.join(top[:5])}")
    n = len(queries)
    print(
        f"RESULT tantivy-py queries={n} P@5={sums['p5'] / n:.3f} R@10={sums['r10'] / n:.3f} "
        f"MRR@10={sums['rr'] / n:.3f} zero-result={sums['zero'] / n:.3f}"
    )


if __name__ == "__main__":
    main()
