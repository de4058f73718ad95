# python3 scripts/bench-foreign-set.py OUT_DIR [ROWS], then npm run bench -- --data OUT_DIR
# A page-view set shaped unlike the project's generator, written by Python's csv module as another tool would:
# 4 M rows (or ROWS); UUID visitors with skewed activity; 25,000 sites with Zipf popularity; URLs with query strings, one
# pattern in eight with a comma (so quoted); 7 files of very different time spans that overlap, two of them
# with CRLF line ends (the csv module's default); bursts of views per visit, with gaps around the 1800 s bound.
import bisect
import csv
import os
import random
import sys
import uuid
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
random.seed(20261130)
ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 4_000_000
SITES = 25_000
VISITORS = 900_000
T0 = 1_700_000_000
DAY = 86_400
site_names = [f"{random.choice(['shop','news','blog','app','docs','forum'])}-{i}.{random.choice(['example.com','example.co.uk','test.org','sample.net'])}" for i in range(SITES)]
site_w = [1 / (i + 1) ** 1.1 for i in range(SITES)]
site_cum = []; acc = 0
for w in site_w: acc += w; site_cum.append(acc)
vis = [str(uuid.UUID(int=random.getrandbits(128))) for _ in range(VISITORS)]
vis_w = [random.paretovariate(1.5) for _ in range(VISITORS)]
vis_cum = []; acc = 0
for w in vis_w: acc += w; vis_cum.append(acc)
def pick(cum):
    return bisect.bisect_left(cum, random.random() * cum[-1])
# file spans in days (start, end)
spans = [(0, 60), (0, 20), (15, 40), (35, 60), (10, 11), (29, 31), (50, 50.5)]
share = [0.35, 0.15, 0.15, 0.15, 0.08, 0.07, 0.05]
paths = ['/', '/products/item-{}', '/search?q=term{}&page=2', '/articles/{}/comments', '/cart', '/checkout?step={}', '/p/{},{}', '/help']
for f, ((d0, d1), sh) in enumerate(zip(spans, share)):
    rows = []
    target = int(ROWS * sh)
    while len(rows) < target:
        v = vis[pick(vis_cum)]
        s = pick(site_cum)
        t = T0 + int(random.uniform(d0, d1) * DAY)
        for _ in range(random.choice([1, 1, 1, 2, 3, 4, 6, 9])):
            p = random.choice(paths)
            url = 'https://' + site_names[s] + p.format(random.randint(1, 300), random.randint(1, 9))
            rows.append((v, site_names[s], url, t))
            t += random.choice([random.randint(1, 600), random.randint(600, 1790), 1800, 1801, random.randint(1790, 1810), random.randint(2000, 9000)])
    rows.sort(key=lambda r: r[3])
    name = os.path.join(OUT, f'log-{f + 1:02d}.csv')
    with open(name, 'w', newline='') as out:
        w = csv.writer(out, lineterminator='\r\n' if f in (1, 4) else '\n')
        w.writerows(rows)
    print(name, len(rows))
