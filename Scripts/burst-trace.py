#!/usr/bin/env python3
"""Whose CPU a creation burst spent, from an ftrace of the scheduler's events.

Reads the text of /sys/kernel/tracing/trace recorded with sched_switch,
sched_process_fork and sched_process_exec over ocibench's bursts
(Scripts/burst-trace records it), and prints, for each burst, the time on a
CPU per container of each role:

  engine             the bench's threads (ocibench)
  monitor: launcher  the process the engine started (`ocishim serve`'s first
                     process, conmon's first process), until it forks
  monitor            what that process forked and never exec'd: the shim, or
                     conmon's monitor (and their children before their exec)
  runc               everything from an exec of runc on (`runc create`,
                     `runc start`, runc init and its stages), until the
                     container's own command is exec'd
  container          the container's command
  kernel             kernel threads (kworkers, ksoftirqd, rcu)
  idle               no task

A task's class follows its execs: a time slice is split where an exec falls
inside it, so the slice's part after the exec counts for the new program.

usage: burst-trace.py TRACE KIND=FIRST_BINARY:RATE ...
  KIND          a burst's name (runc, ocishim, conmon)
  FIRST_BINARY  the basename of the program whose first exec in the trace
                starts the burst's window (runc for runc alone, which must
                then be the first burst: ocibench's first run goes runc,
                ocishim, conmon)
  RATE          the burst's containers per second (ocibench prints it); the
                window is CONTAINERS / RATE seconds from that first exec
"""
import collections
import re
import sys

SWITCH = re.compile(r'\[(\d+)\].*?\s(\d+\.\d+): sched_switch: prev_comm=(.*?) prev_pid=(\d+) .*?==> next_comm=.*? next_pid=(\d+)')
EXEC = re.compile(r'\s(\d+\.\d+): sched_process_exec: filename=(\S+) pid=(\d+)')
FORK = re.compile(r'\s(\d+\.\d+): sched_process_fork: comm=.*? pid=(\d+) child_comm=.*? child_pid=(\d+)')
KERNEL = ('kworker', 'ksoftirqd', 'rcu', 'migration', 'kdamond', 'kcompactd', 'khugepaged', 'kswapd')
RUNTIME = {'runc', 'exe'}  # runc, and runc init through /proc/self/exe
MONITORS = {'ocishim', 'conmon'}
CONTAINERS = 100


def program(filename):
    base = filename.rsplit('/', 1)[-1]
    # runc init runs from a sealed copy of runc (/proc/self/fd/N, /dev/fd/N)
    return 'runc' if base.isdigit() else base


def read(path):
    slices, execs, parent = [], collections.defaultdict(list), {}
    last = {}
    with open(path, errors='replace') as trace:
        for line in trace:
            m = SWITCH.search(line)
            if m:
                cpu, t, comm, prev, _ = m.groups()
                t = float(t)
                if cpu in last:
                    slices.append((last[cpu], t, int(prev), comm))
                last[cpu] = t
                continue
            m = EXEC.search(line)
            if m:
                t, filename, pid = m.groups()
                execs[int(pid)].append((float(t), program(filename)))
                continue
            m = FORK.search(line)
            if m:
                _, pid, child = m.groups()
                parent.setdefault(int(child), int(pid))
    return slices, execs, parent


class Roles:
    def __init__(self, execs, parent):
        self.execs, self.parent = execs, parent

    def program_at(self, pid, t):
        """The program a task runs at time t: its last exec before t, else
        its parent's at the fork (threads and forked children), else None."""
        seen = set()
        while pid not in seen:
            seen.add(pid)
            before = [p for te, p in self.execs.get(pid, []) if te <= t]
            if before:
                return before[-1], pid
            if pid not in self.parent:
                return None, pid
            pid = self.parent[pid]
        return None, pid

    def role(self, pid, comm, t):
        if pid == 0:
            return 'idle'
        prog, owner = self.program_at(pid, t)
        if prog is None:
            return 'kernel' if comm.startswith(KERNEL) else 'other'
        if prog == 'ocibench':
            return 'engine'
        if prog in RUNTIME:
            return 'runc'
        if prog in MONITORS:
            # the exec'd process itself, or what it forked without an exec
            return 'monitor: launcher' if owner == pid and self.execs.get(pid) else 'monitor'
        return 'container' if prog in ('sleep', 'true', 'sh') else 'other'


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    slices, execs, parent = read(sys.argv[1])
    roles = Roles(execs, parent)
    firsts = {}
    for pid, seen in execs.items():
        for t, prog in seen:
            if prog not in firsts or t < firsts[prog]:
                firsts[prog] = t
    order = ['engine', 'monitor: launcher', 'monitor', 'runc', 'container', 'kernel', 'other', 'idle']
    print('%-8s %7s %7s  %s' % ('burst', 'window', 'busy', '  '.join('%9s' % r.replace('monitor: ', '') for r in order)))
    for spec in sys.argv[2:]:
        kind, rest = spec.split('=', 1)
        first, rate = rest.split(':')
        if first not in firsts:
            sys.exit('burst-trace: no exec of %s in the trace' % first)
        t0 = firsts[first]
        t1 = t0 + CONTAINERS / float(rate)
        spent = collections.Counter()
        for a, b, pid, comm in slices:
            lo, hi = max(a, t0), min(b, t1)
            if hi <= lo:
                continue
            cuts = [lo] + [te for te, _ in execs.get(pid, []) if lo < te < hi] + [hi]
            for x, y in zip(cuts, cuts[1:]):
                spent[roles.role(pid, comm, (x + y) / 2)] += y - x
        busy = sum(v for r, v in spent.items() if r != 'idle')
        per = lambda seconds: seconds * 1e3 / CONTAINERS
        print('%-8s %6.2fs %7.1f  %s' % (kind, t1 - t0, per(busy), '  '.join('%9.2f' % per(spent[r]) for r in order)))
    print('(ms per container; window: from the first exec of the burst\'s program for %d / rate seconds)' % CONTAINERS)


if __name__ == '__main__':
    main()
