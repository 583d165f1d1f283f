#!/usr/bin/env python3
"""Lists the functions a shim runs, in the order it first runs them.

    text-order.py --binary BIN --map MAP --out FILE [--exited FILE] -- COMMAND...

Runs COMMAND under ptrace and follows every process it starts. A process
that executes BIN gets a one-shot breakpoint (int3) on the first byte of
every function of BIN's symbol table, written through /proc/PID/mem before
it runs an instruction; each breakpoint that fires is noted, put back to its
original byte and the process goes on. Processes that execute anything else
(the OCI runtime) are let go at their exec. When the last traced process has
ended, FILE gets the names of the functions that ran, in the order they
first ran (every name of an address, aliases included). The breakpoints
live in the process's private copy of its text: a process that drops its
text's mappings (madvise MADV_DONTNEED, as an idle shim does) runs the
file's bytes again, and nothing it runs afterwards is seen. --exited names a
file written with COMMAND's exit status as soon as COMMAND has ended (the
processes it started may still run, traced).

Functions in an input section larger than 64 KiB are left out (MAP is lld's
-Map of BIN): the Swift standard library's object has one 1.6 MB .text, and
listing one of its functions would pull all of it in among the others.

Why breakpoints and not sampling: most of what a shim runs between its start
and a running container runs once, for microseconds; a sampling profiler
sees a small part of it. Why not page residency: the kernel maps up to 16
pages around every page fault of a file mapping, and marks them accessed.

Scripts/gen-text-order runs this around container lifecycles; the list is
the text part of the symbol ordering file Scripts/build-static links with.
"""
import ctypes
import os
import re
import signal
import subprocess
import sys

PTRACE_TRACEME, PTRACE_CONT, PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_DETACH = 0, 7, 12, 13, 17
PTRACE_SETOPTIONS, PTRACE_GETEVENTMSG = 0x4200, 0x4201
OPTIONS = 0x2 | 0x4 | 0x8 | 0x10 | 0x100000  # TRACEFORK, TRACEVFORK, TRACECLONE, TRACEEXEC, EXITKILL
EVENT_FORK, EVENT_VFORK, EVENT_CLONE, EVENT_EXEC = 1, 2, 3, 4
WALL = 0x40000000
RIP = 16  # index of rip in struct user_regs_struct (x86_64)

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
Regs = ctypes.c_ulonglong * 27


def ptrace(request, pid, addr=0, data=0):
    if libc.ptrace(request, pid, ctypes.c_void_p(addr), ctypes.c_void_p(data)) == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"ptrace({request}, {pid}): {os.strerror(err)}")


LARGEST_SECTION = 64 << 10


def large_section_symbols(map_path):
    """Names defined in input sections larger than LARGEST_SECTION (lld -Map:
    VMA LMA Size Align Out In Symbol; a symbol line follows its section's)."""
    names, large = set(), False
    row = re.compile(r"\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+( +)(\S.*)$")
    with open(map_path) as lines:
        for line in lines:
            match = row.match(line)
            if not match:
                continue
            depth = len(match.group(2))
            if depth < 8:  # an output section
                large = False
            elif depth < 16:  # an input section
                large = int(match.group(1), 16) > LARGEST_SECTION
            elif large:
                names.add(match.group(3))
    return names


def functions(binary):
    """Text segment bounds and {address: [names]} of its function symbols."""
    segment = None
    for line in subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        fields = line.split()
        if fields[:1] == ["LOAD"] and "E" in fields[6:-1]:
            segment = (int(fields[2], 16), int(fields[2], 16) + int(fields[4], 16))
    if segment is None:
        sys.exit(f"text-order: no executable segment in {binary}")
    names = {}
    for line in subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        fields = line.split(" ", 2)
        if len(fields) == 3 and fields[1] in "TtWw" and segment[0] <= int(fields[0], 16) < segment[1]:
            names.setdefault(int(fields[0], 16), []).append(fields[2])
    return segment, names


class Tracer:
    def __init__(self, binary):
        self.binary = os.path.realpath(binary)
        self.segment, self.names = functions(binary)
        # Per process, the breakpoints still in its memory: {address: byte}.
        # Processes sharing memory (vfork, threads) share the dict.
        self.armed = {}
        self.pending = {}  # new processes seen before their parent's event
        self.order = []
        self.seen = set()

    def arm(self, pid):
        lo, hi = self.segment
        with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
            mem.seek(lo)
            text = bytearray(mem.read(hi - lo))
            original = {}
            for address in self.names:
                original[address] = text[address - lo]
                text[address - lo] = 0xCC
            mem.seek(lo)
            mem.write(text)
        self.armed[pid] = original

    def fired(self, pid):
        regs = Regs()
        ptrace(PTRACE_GETREGS, pid, 0, ctypes.addressof(regs))
        address = regs[RIP] - 1
        breakpoints = self.armed.get(pid)
        if breakpoints is None or address not in breakpoints:
            return False
        with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
            mem.seek(address)
            mem.write(bytes([breakpoints.pop(address)]))
        regs[RIP] = address
        ptrace(PTRACE_SETREGS, pid, 0, ctypes.addressof(regs))
        if address not in self.seen:
            self.seen.add(address)
            self.order.append(address)
        return True

    def adopt(self, parent, child, event):
        memory = self.armed.get(parent)
        if memory is not None:
            self.armed[child] = dict(memory) if event == EVENT_FORK else memory
        if child in self.pending:
            del self.pending[child]
            ptrace(PTRACE_CONT, child)
        else:
            self.pending[child] = "known"

    def run(self, command, exited=None):
        first = os.fork()
        if first == 0:
            libc.ptrace(PTRACE_TRACEME, 0, None, None)
            os.execvp(command[0], command)
        _, status = os.waitpid(first, WALL)
        ptrace(PTRACE_SETOPTIONS, first, 0, OPTIONS)
        if os.path.realpath(f"/proc/{first}/exe") == self.binary:
            self.arm(first)
        ptrace(PTRACE_CONT, first)
        live = {first}
        started = {first}
        exit_status = None
        while live:
            pid, status = os.waitpid(-1, WALL)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                live.discard(pid)
                self.armed.pop(pid, None)
                if pid == first:
                    exit_status = os.waitstatus_to_exitcode(status)
                    if exited:
                        with open(exited, "w") as out:
                            out.write(f"{exit_status}\n")
                continue
            live.add(pid)
            stop, event = os.WSTOPSIG(status), status >> 16
            if event in (EVENT_FORK, EVENT_VFORK, EVENT_CLONE):
                message = ctypes.c_ulong()
                ptrace(PTRACE_GETEVENTMSG, pid, 0, ctypes.addressof(message))
                live.add(message.value)
                self.adopt(pid, message.value, event)
                ptrace(PTRACE_CONT, pid)
            elif event == EVENT_EXEC:
                self.armed.pop(pid, None)
                if os.path.realpath(f"/proc/{pid}/exe") == self.binary:
                    self.arm(pid)
                    ptrace(PTRACE_CONT, pid)
                elif pid == first:
                    ptrace(PTRACE_CONT, pid)
                else:
                    ptrace(PTRACE_DETACH, pid)
                    live.discard(pid)
            elif pid not in started:
                # A new process's first stop: go on once its parent's event
                # said whose memory it has.
                started.add(pid)
                if self.pending.pop(pid, None) == "known":
                    ptrace(PTRACE_CONT, pid)
                else:
                    self.pending[pid] = "stopped"
            elif stop == signal.SIGTRAP and self.fired(pid):
                ptrace(PTRACE_CONT, pid)
            else:
                ptrace(PTRACE_CONT, pid, 0, stop)
        return exit_status

    def write(self, path, leave_out):
        with open(path, "w") as out:
            for address in self.order:
                for name in self.names[address]:
                    if name not in leave_out:
                        out.write(name + "\n")


def main():
    args = sys.argv[1:]
    if "--" not in args:
        sys.exit(__doc__)
    split = args.index("--")
    options, command = args[:split], args[split + 1:]
    settings = dict(zip(options[::2], options[1::2]))
    if not {"--binary", "--map", "--out"} <= set(settings) <= {"--binary", "--map", "--out", "--exited"} or not command:
        sys.exit(__doc__)
    tracer = Tracer(settings["--binary"])
    status = tracer.run(command, settings.get("--exited"))
    tracer.write(settings["--out"], large_section_symbols(settings["--map"]))
    print(f"text-order: {len(tracer.order)} of {len(tracer.names)} functions ran", file=sys.stderr)
    sys.exit(status or 0)


if __name__ == "__main__":
    main()
