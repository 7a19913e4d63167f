# Would a shorter tuning budget rank candidates as the 5-epoch budget does? From the committed
# ablation cells' eval.csv (every epoch evaluated): NMI at epoch k against epoch 5 across cells, and
# the paired difference of every two methods on the same (split, seed) at epoch k against epoch 5.
# Run from the repository root: python3 experiments/tuning/screening.py
import csv, glob, os, re, itertools
import numpy as np
from scipy import stats
root='experiments/results/ablations/cells'
cells={}
for d in sorted(glob.glob(root+'/*/')):
    name=os.path.basename(d.rstrip('/'))
    m=re.match(r'(.*)-split(\d+)-seed(\d+)$',name)
    meth,sp,sd=m.group(1),int(m.group(2)),int(m.group(3))
    p=d+'eval.csv'
    if not os.path.exists(p): continue
    rows=list(csv.DictReader(open(p)))
    nmi={int(r['epoch']):float(r['nmi_geometric']) for r in rows}
    acc={int(r['epoch']):float(r['real_cluster_accuracy']) for r in rows}
    if 5 in nmi: cells[(meth,sp,sd)]=(nmi,acc)
print(len(cells),'cells with epoch 5')
for k in [1,2,3,4]:
    xs=[c[0][k] for c in cells.values() if k in c[0]]; ys=[c[0][5] for c in cells.values() if k in c[0]]
    print(f'epoch {k} vs 5 NMI across cells: n={len(xs)} spearman={stats.spearmanr(xs,ys).statistic:.3f} pearson={stats.pearsonr(xs,ys).statistic:.3f}')
# paired differences between methods on same (split,seed)
meths=sorted({m for m,_,_ in cells})
for k in [1,2,3,4]:
    agree=0;tot=0;dk=[];d5=[]
    for a,b in itertools.combinations(meths,2):
        for (m,sp,sd) in cells:
            if m!=a: continue
            if (b,sp,sd) not in cells: continue
            A=cells[(a,sp,sd)][0];B=cells[(b,sp,sd)][0]
            if k not in A or k not in B: continue
            x=A[k]-B[k]; y=A[5]-B[5]; dk.append(x); d5.append(y)
            tot+=1; agree+= (np.sign(x)==np.sign(y))
    print(f'epoch {k}: paired method differences n={tot}, sign agrees with epoch 5 in {agree}/{tot} = {agree/tot:.2f}, pearson {stats.pearsonr(dk,d5).statistic:.3f}')
