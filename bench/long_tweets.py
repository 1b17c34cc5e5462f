"""Training chars/s on 280-character tweets against 140-character ones (issue 16 §1).

``python -m bench.long_tweets``: batches of 32 dev-corpus tweets of 95-115 characters, against
batches of 32 texts of 250-280 characters (two dev tweets joined: the lengths are what
matters), in alternating 6-second blocks on one thread, so both see the same machine load.
A GRU step costs the same per character at any length, so the two should match.
"""
import time, random, torch, resource
torch.set_num_threads(1)
from core.data.corpus import load_corpus
from core.data.vocab import CharVocab
from core.model.gru import new_model
from core.data.batching import make_batch
from core.train.evaluate import masked_loss_sum
import schedulefree
from bench.common import corpus_path
texts,_=load_corpus(corpus_path())
rng=random.Random(0)
short=[t for t in texts if 95<=len(t)<=115]
long_=[]
while len(long_)<2000:
    a,b=rng.choice(texts),rng.choice(texts)
    s=(a+" "+b)[:280]
    if len(s)>=250: long_.append(s)
vocab=CharVocab.build(texts)
model=new_model(vocab, seed=0)
opt=schedulefree.AdamWScheduleFree(model.parameters(), lr=6e-3); opt.train()
def block(pool, secs=6.0):
    chars=0; t0=time.perf_counter(); steps=0
    while time.perf_counter()-t0<secs:
        batch=make_batch([vocab.encode(t) for t in rng.sample(pool,32)])
        logits,_=model(batch.inputs,None,batch.remaining); loss,n=masked_loss_sum(logits,batch.targets)
        opt.zero_grad(); (loss/n).backward(); opt.step(); chars+=int(n); steps+=1
    return chars/(time.perf_counter()-t0), steps
res={"~105":[], "~265":[]}
for r in range(4):
    res["~105"].append(block(short)[0]); res["~265"].append(block(long_)[0])
for k,v in res.items(): print(k, "chars/s per block", [round(x) for x in v], "median", round(sorted(v)[len(v)//2]))
print("peak RSS MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)
