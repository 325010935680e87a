"""The kernel's work buffers: fixed-size arrays reused from person to person, made larger
(and the person lived again) when the kernel says one was too small."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numba as nb
import numpy as np
from numba.core import types
from numba.experimental import structref

from simulator.compiled import kernel as k
from simulator.compiled import vitals as vt
from simulator.compiled.lower import VITAL_NAMES
from simulator.compiled.strings import StringTable

WORK_FIELDS = (
    "n", "pkey", "sc", "stats", "H", "WT", "ND", "KH", "E", "e_vnum", "EN", "j", "jf", "HV",
    "PR", "FR",
    "FFI", "ff_p", "A", "a_num", "PRS", "SY", "OW", "rbuf", "stack", "str_lower", "person_f", "VD",
    "body", "bulk", "vout", "vtime", "drug", "OV", "ovf", "vak", "van", "var", "vmed", "str_info",
    "xpk", "xpn", "xsk", "xsn", "str_off", "str_cp",
)
# Few arrays, each a table with named columns (kernel.H_TIME, kernel.E_KIND, ...), in one
# StructRef: numba passes it as one pointer, so a kernel function compiles in a tenth of the
# time a tuple of dozens of arrays takes.


@structref.register
class WorkType(types.StructRef):
    def preprocess_fields(self, fields: Any) -> Any:
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class Work(structref.StructRefProxy):
    """The kernel's work buffers (fields: WORK_FIELDS)."""


structref.define_proxy(Work, WorkType, list(WORK_FIELDS))


HISTORY_START = 64  # visits each process starts with in the history pool
FF_OPTIONS = 64


def _t(rows: int, columns: int, fill: int = 0) -> np.ndarray:
    return np.full((rows, columns), fill, dtype=np.int64)


class Capacities:
    """The sizes of the growable buffers, doubled one at a time."""

    def __init__(self) -> None:
        self.sizes = {k.G_HEAP: 256, k.G_WAIT: 1024, k.G_NODE: 1024, k.G_ENTRY: 1024,
                      k.G_ENC: 256, k.G_J: 4096, k.G_HIST: 8192, k.G_SYM: 32, k.G_DEPTH: 8}

    def grow(self, which: int) -> None:
        self.sizes[which] *= 2


def make_work(P: Any, caps: Capacities, processes: list[tuple[int, int, int, int]],
              n_streams: int, texts: StringTable) -> tuple[Any, Any]:
    """Buffers for a program, as a Work for the kernel and the same arrays by name for
    Python; `processes` are (kind, module, owner, spawned later) in start order."""
    size = caps.sizes
    nproc = len(processes)
    n_keys = int(P.consts[k.C_SIG_ATTR0]) + P.n_attr + P.n_symptoms
    size[k.G_HIST] = max(size[k.G_HIST], nproc * HISTORY_START * 2)
    PR = _t(nproc, 19)
    for p, (kind, module, owner, spawned) in enumerate(processes):
        PR[p, k.PR_KIND] = kind
        PR[p, k.PR_MODULE] = module
        PR[p, k.PR_OWNER] = owner
        PR[p, k.PR_X1] = spawned
    fields = dict(
        n=np.zeros(k.N_SCALARS, dtype=np.int64), pkey=np.zeros(1, dtype=np.uint64),
        sc=np.zeros(n_streams, dtype=np.int64), stats=np.zeros(32, dtype=np.int64),
        H=_t(size[k.G_HEAP], 5), WT=_t(size[k.G_WAIT], 2), ND=_t(size[k.G_NODE], 2),
        KH=_t(n_keys, 2, -1), E=_t(size[k.G_ENTRY], 9), e_vnum=np.zeros(size[k.G_ENTRY]), EN=_t(size[k.G_ENC], 8),
        j=np.zeros((size[k.G_J], 9), dtype=np.int64), jf=np.zeros(size[k.G_J]),
        HV=_t(size[k.G_HIST], 5), PR=PR,
        FR=np.zeros((nproc, size[k.G_DEPTH], 6), dtype=np.int64),
        FFI=np.zeros((nproc, FF_OPTIONS, 2), dtype=np.int64), ff_p=np.zeros((nproc, FF_OPTIONS)),
        A=_t(P.n_attr, 2), a_num=np.zeros(P.n_attr),
        PRS=_t(P.n_code_text, 6, -1), SY=_t(size[k.G_SYM], 5), OW=_t(P.n_strings, 3, -1),
        rbuf=np.zeros((64, 2), dtype=np.int64), stack=np.zeros(256, dtype=np.int64),
        str_lower=texts.lower, person_f=np.zeros(6),
        body=np.zeros(vt.N_BODY), bulk=np.zeros(4), vout=np.full(len(VITAL_NAMES), np.nan),
        vtime=np.full(len(vt.GROUPS), k.NONE, dtype=np.int64), drug=vt.new_drug_impact(),
        OV=_t(len(VITAL_NAMES), 5), ovf=np.zeros((len(VITAL_NAMES), 3)),
        vak=np.zeros(len(vt.ATTRIBUTES), dtype=np.int64), van=np.zeros(len(vt.ATTRIBUTES)),
        var=np.zeros(len(vt.ATTRIBUTES), dtype=np.int64),
        vmed=np.zeros(len(vt.MEDICATIONS), dtype=np.bool_), str_info=texts.info,
        xpk=np.zeros(max(int(P.EXPRP.shape[0]), 1), dtype=np.int64),
        xpn=np.zeros(max(int(P.EXPRP.shape[0]), 1)),
        xsk=np.zeros(int(P.expr_stack) + 1, dtype=np.int64), xsn=np.zeros(int(P.expr_stack) + 1),
        str_off=texts.off, str_cp=texts.cp,
        VD=np.zeros((P.VAX.shape[0], 2 + int(P.VAX[:, k.VAX_N].max(initial=0))), dtype=np.int64),
    )
    return new_work(tuple(fields[f] for f in WORK_FIELDS)), SimpleNamespace(**fields)


@nb.njit(cache=True)
def new_work(fields: Any) -> Any:
    """Work(*fields) from numba's on-disk cache (as lower.new_program)."""
    return Work(*fields)


@nb.njit(cache=True)
def set_strings(W: Any, lower: np.ndarray, info: np.ndarray, off: np.ndarray,
                cp: np.ndarray) -> None:
    """The string tables grew (a person brought new strings): strings.StringTable's arrays."""
    W.str_lower = lower
    W.str_info = info
    W.str_off = off
    W.str_cp = cp


@nb.njit(cache=True)
def reset(W: Any, birth: int, end: int) -> None:
    """Clears the buffers for the next person (attributes are filled by the caller after)."""
    W.n[:] = 0
    W.n[k.N_GROW] = -1
    W.n[k.N_DEATH] = k.NONE
    W.n[k.N_LOCK] = -1
    W.n[k.N_ENGENC] = -1
    W.n[k.N_DEATH_SRC] = -1
    W.n[k.N_BIRTH] = birth
    W.n[k.N_END] = end
    W.n[k.N_LASTW] = k.NONE
    W.n[k.N_PLAN] = -1
    W.sc[:] = 0
    W.VD[:, 0] = 0
    W.vtime[:] = k.NONE
    W.OV[:, 0] = 0
    W.drug[:] = np.nan
    W.stats[:] = 0
    W.KH[:, k.KH_HEAD] = -1
    W.PRS[:, k.PRS_PR_ENTRY] = -1
    W.PRS[:, k.PRS_CH_ENTRY] = -1
    W.PRS[:, k.PRS_LO_ENTRY] = -1
    W.OW[:, k.OW_ME] = -1
    W.OW[:, k.OW_WFLAG] = 0
    W.OW[:, k.OW_WJOINED] = -1
    nproc = W.PR.shape[0]
    for p in range(nproc):
        W.PR[p, k.PR_PC] = k.PC_START
        W.PR[p, k.PR_DEPTH] = 0
        W.PR[p, k.PR_HSTART] = p * HISTORY_START
        W.PR[p, k.PR_HLEN] = 0
        W.PR[p, k.PR_HCAP] = HISTORY_START
    W.n[k.N_HUSED] = nproc * HISTORY_START
