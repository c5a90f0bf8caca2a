#!/usr/bin/env python3
"""What the matcher's score (匹配度) means on the evaluation set: for each need's ten best
candidates (its own source paper left out, as the scorer does), the share related by score bin,
and the share related at or above each threshold with how many candidates per need clear it.

    python3 benches/reliability.py RUN QRELS [--depth 10] [--resort]

`--resort` orders each need's candidates by the score column first (what the list would be if
sorted by the shown score) and prints nDCG@10 of both orders.
"""
import math
import sys
from collections import defaultdict


def load_run(path):
    run = defaultdict(list)
    for line in open(path, encoding="utf-8"):
        need, _, doc, rank, score, _ = line.split()
        run[need].append((int(rank), doc, float(score)))
    return {n: [(d, s) for _, d, s in sorted(rows)] for n, rows in run.items()}


def load_qrels(path):
    rel = defaultdict(set)
    for line in open(path, encoding="utf-8"):
        need, _, doc, grade = line.split()
        if int(grade) >= 1:
            rel[need].add(doc)
    return rel


def ndcg10(run, rel):
    total = 0.0
    for need, related in rel.items():
        ranked = [d for d, _ in run.get(need, []) if d != need][:10]
        dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked) if d in related)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(related - {need}))))
        total += dcg / ideal if ideal else 0
    return total / len(rel)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    depth = 10
    if "--depth" in sys.argv:
        depth = int(sys.argv[sys.argv.index("--depth") + 1])
        args.remove(str(depth))
    run, rel = load_run(args[0]), load_qrels(args[1])
    if "--resort" in sys.argv:
        resorted = {n: sorted(rows, key=lambda r: -r[1]) for n, rows in run.items()}
        print(f"nDCG@10 by rank order {ndcg10(run, rel):.4f}; by score {ndcg10(resorted, rel):.4f}")
    pairs = []
    for need in rel:
        for doc, score in [r for r in run.get(need, []) if r[0] != need][:depth]:
            pairs.append((score, doc in rel[need]))
    print(f"{len(rel)} needs, their {depth} best candidates: {len(pairs)} pairs, "
          f"{sum(r for _, r in pairs) / len(pairs):.3f} related")
    print("| score | pairs | related |")
    print("|---|---|---|")
    for lo in [i / 10 for i in range(10)]:
        inbin = [r for s, r in pairs if lo <= s < lo + 0.1 or (lo == 0.9 and s >= 1.0)]
        if inbin:
            print(f"| {lo:.1f}-{lo + 0.1:.1f} | {len(inbin)} | {sum(inbin) / len(inbin):.3f} |")
    print()
    print("| threshold | pairs at or above | per need | related (precision) |")
    print("|---|---|---|---|")
    for t in [0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7]:
        above = [r for s, r in pairs if s >= t]
        if above:
            print(f"| {t:.2f} | {len(above)} | {len(above) / len(rel):.2f} | {sum(above) / len(above):.3f} |")


if __name__ == "__main__":
    main()
