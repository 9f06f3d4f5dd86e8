#!/usr/bin/python3
"""Where a process waits in the kernel (off-CPU), from `perf record -e sched:sched_switch -g`.

    perf record -e sched:sched_switch -g -o /tmp/p.data -- bench/build/floor teardown ... < lines
    perf script -i /tmp/p.data -F time,ip,sym | python3 bench/offcpu.py

Each switch-out is charged the time until the task's next switch-out (its short run time
included), under what it waited for (rcu_barrier, synchronize_rcu[_expedited], a mutex) and
the first kernel function above the wait. A diagnostic for bench/README.md, not part of the run.
"""
import sys,collections
evs=[];cur=None
for line in sys.stdin:
    if line.startswith('\t'):
        p=line.split()
        if cur is not None and len(p)>=2: cur['st'].append(p[1])
    elif line.strip():
        cur={'t':float(line.strip().rstrip(':')),'st':[]};evs.append(cur)
skip={'__schedule','schedule','schedule_preempt_disabled','__mutex_lock.constprop.0','schedule_timeout','wait_for_completion','__wait_for_common','exp_funnel_lock','__wait_rcu_gp','synchronize_rcu_expedited','synchronize_rcu','rcu_barrier','wait_for_completion_state','schedule_hrtimeout_range','msleep','schedule_timeout_uninterruptible','synchronize_rcu_expedited_wait_once','synchronize_rcu_expedited_wait','rcu_exp_wait_wake','wait_rcu_exp_gp'}
agg=collections.Counter()
for a,b in zip(evs,evs[1:]):
    dt=(b['t']-a['t'])*1000
    st=a['st']
    wait=next((f for f in st if f in ('synchronize_rcu_expedited','synchronize_rcu','rcu_barrier','msleep','__mutex_lock.constprop.0')), 'preempted/other')
    caller=next((f for f in st if f not in skip), '?')
    agg[(wait,caller)]+=dt
tot=sum(agg.values())
print('off-CPU (approx.) total %.1f ms'%tot)
for k,v in agg.most_common(12): print('%7.1f ms  %-28s in %s'%(v,k[0],k[1]))
