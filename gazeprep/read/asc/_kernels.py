"""The numba kernels of the ASC reader: lines, line kinds and numbers straight from the bytes.

The file is one uint8 buffer; :func:`split_lines` finds every line, :func:`classify_lines`
tells samples, bulk-parsed events and MSG lines from the few that change state, and the
parsers read numbers without making a Python string: :func:`parse_samples` (sample lines, per
eye), :func:`parse_head_lines` (``HEAD [EYE] n1 n2 ...``). Numbers parse exactly like
``float()`` up to 15 significant digits; longer digit strings and any exponent stay within an
ulp or two (overflow gives inf). ``.`` is a missing value (NaN).
"""

from __future__ import annotations

import numpy as np

from gazeprep._numba import jit, jit_inline, jit_parallel, prange

#: Powers of ten the number parser divides by (an argument of every parsing kernel).
_POW10 = np.array([10.0 ** k for k in range(23)])


@jit
def split_lines(buf):
    """Start and end (exclusive, without ``\\r\\n``) byte offset of every line."""
    n = buf.shape[0]
    count = 0
    for i in range(n):
        if buf[i] == 10:
            count += 1
    if n > 0 and buf[n - 1] != 10:
        count += 1
    starts = np.empty(count, np.int64)
    ends = np.empty(count, np.int64)
    k = 0
    s = 0
    for i in range(n):
        if buf[i] == 10:
            e = i
            if e > s and buf[e - 1] == 13:
                e -= 1
            starts[k] = s
            ends[k] = e
            k += 1
            s = i + 1
    if s < n:
        e = n
        if buf[e - 1] == 13:
            e -= 1
        starts[k] = s
        ends[k] = e
    return starts, ends


@jit
def classify_lines(buf, starts, ends, pats, plen, codes):
    """Kind of each line: 0 empty, 1 sample (starts with a digit), ``codes[i]`` for ``pats[i]``
    followed by a blank, 10 for header/continuation lines (``*``, ``>``, blank first), 9 anything
    else."""
    n = starts.shape[0]
    kind = np.zeros(n, np.int8)
    for i in range(n):
        s = starts[i]
        e = ends[i]
        if s >= e:
            continue
        c = buf[s]
        if 48 <= c <= 57:
            kind[i] = 1
            continue
        if c == 32 or c == 9 or c == 42 or c == 62:
            kind[i] = 10
            continue
        kind[i] = 9
        for p in range(pats.shape[0]):
            ln = plen[p]
            if e - s > ln and (buf[s + ln] == 32 or buf[s + ln] == 9):
                ok = True
                for k in range(ln):
                    if buf[s + k] != pats[p, k]:
                        ok = False
                        break
                if ok:
                    kind[i] = codes[p]
                    break
    return kind


@jit
def _parse_number(buf, a, b, pow10):
    """Parse the whole token ``buf[a:b]`` as a float (sign, digits, point, exponent); ``.`` is NaN.

    Returns (value, ok): ok is False when the token is not exactly one number or ``.``.
    """
    v, status, end = _next_field(buf, a, b, pow10)
    return v, status <= 1 and end == b


@jit_inline
def _is_blank(c):
    return c == 32 or c == 9


@jit_parallel
def parse_sample_lines(buf, starts, ends, idx, nfields, pow10):
    """Parse the leading numeric fields of the sample lines ``idx`` (one pass per line).

    Returns
    -------
    vals : float64 (m, nfields)
        NaN for ``.`` or fields not present.
    ntok : int64 (m,)
        Number of leading fields that parsed as a number or ``.`` (stops at the flag field or
        at anything that is not a number).
    """
    m = idx.shape[0]
    vals = np.full((m, nfields), np.nan)
    ntok = np.zeros(m, np.int64)
    for r in prange(m):
        p = starts[idx[r]]
        e = ends[idx[r]]
        k = 0
        while k < nfields:
            v, status, p = _next_field(buf, p, e, pow10)
            if status >= 2:
                break  # not a number (the flag field, or garbage) or no field left
            vals[r, k] = v  # NaN for '.'
            k += 1
        ntok[r] = k
    return vals, ntok


@jit_inline
def _next_field(buf, p, e, pow10):
    """Parse the next blank-separated field from ``p``.

    Returns (value, status, end): status 0 number, 1 ``.`` (missing, value NaN), 2 not a number,
    3 no field left.
    """
    while p < e and _is_blank(buf[p]):
        p += 1
    if p >= e:
        return np.nan, 3, p
    a = p
    neg = False
    if buf[p] == 45 or buf[p] == 43:
        neg = buf[p] == 45
        p += 1
    mant = 0.0
    nd = 0
    nfrac = -1  # fraction digits held in mant (-1: no point yet)
    drop = 0  # integer digits beyond the precision held in mant: each scales the value by 10
    while p < e:
        c = buf[p]
        if 48 <= c <= 57:
            nd += 1
            if mant < 1e17:
                mant = mant * 10.0 + (c - 48)
                if nfrac >= 0:
                    nfrac += 1
            elif nfrac < 0:
                drop += 1
            # a fraction digit beyond 17 significant digits cannot change a float64: ignored
        elif c == 46 and nfrac < 0:
            nfrac = 0
        else:
            break
        p += 1
    ex = 0
    if nd > 0 and p < e and (buf[p] == 101 or buf[p] == 69):
        p += 1
        eneg = False
        if p < e and (buf[p] == 45 or buf[p] == 43):
            eneg = buf[p] == 45
            p += 1
        ne = 0
        while p < e and 48 <= buf[p] <= 57:
            if ex < 100000:  # saturate: any larger exponent over- or underflows anyway
                ex = ex * 10 + (buf[p] - 48)
            p += 1
            ne += 1
        if ne == 0:
            return np.nan, 2, p
        if eneg:
            ex = -ex
    if p < e and not _is_blank(buf[p]):
        return np.nan, 2, p
    if nd == 0:
        if p - a == 1 and buf[a] == 46:
            return np.nan, 1, p
        return np.nan, 2, p
    # Digits accumulate as an integer mantissa divided once by a power of ten, so values of up
    # to 15 significant digits parse exactly like float(); longer digit strings and extreme
    # exponents go through _scale10 (within an ulp or two; overflow gives inf, never NaN).
    if drop == 0 and nfrac < pow10.shape[0] and -300 <= ex <= 300:
        v = mant / pow10[nfrac] if nfrac > 0 else mant
        if ex != 0:
            v = v * 10.0 ** ex
    else:
        v = _scale10(mant, ex + drop - max(nfrac, 0))
    return (-v if neg else v), 0, p


@jit_inline
def _scale10(m, e):
    """``m * 10**e`` for a mantissa m < 1e18 and any exponent: 0 or inf beyond float64."""
    if m == 0.0 or e < -400:
        return 0.0
    if e > 400:
        return np.inf
    # float exponents: numba computes 10.0 ** <int> by repeated multiplication (ulps off)
    if e >= 0:
        return m * 10.0 ** float(e)
    if e < -300:
        return m * 10.0 ** float(e + 300) / 1e300  # two steps: 10.0 ** -330 alone is 0
    return m / 10.0 ** float(-e)


@jit_parallel
def parse_samples(buf, starts, ends, idx, layout, pow10):
    """Parse sample lines straight into time and per-eye x, y, pupil.

    Parameters
    ----------
    buf : uint8 array
        The file.
    starts, ends : int64 arrays
        Line offsets; ``idx`` selects the sample lines.
    layout : int8 array (m,)
        Per sample line: 0 left eye only, 1 right eye only, 2 binocular (left then right).
    pow10 : float64 array
        Powers of ten.

    Returns
    -------
    t : float64 (m,)
    x, y, pupil : float64 (2, m)
        NaN for ``.``, for an eye not recorded and for pupil <= 0 (EyeLink's lost eye).
    ntok : int64 (m,)
        Fields read before the first non-number (at most the ``4`` or ``7`` needed).
    """
    m = idx.shape[0]
    t = np.full(m, np.nan)
    x = np.full((2, m), np.nan)
    y = np.full((2, m), np.nan)
    pup = np.full((2, m), np.nan)
    ntok = np.zeros(m, np.int64)
    for r in prange(m):
        p = starts[idx[r]]
        e = ends[idx[r]]
        lay = layout[r]
        need = 7 if lay == 2 else 4
        k = 0
        while k < need:
            v, status, p = _next_field(buf, p, e, pow10)
            if status >= 2:
                break
            if k == 0:
                t[r] = v
            else:
                eye = (k - 1) // 3 if lay == 2 else lay
                comp = (k - 1) % 3
                if comp == 0:
                    x[eye, r] = v
                elif comp == 1:
                    y[eye, r] = v
                elif v > 0:
                    pup[eye, r] = v
            k += 1
        ntok[r] = k
    return t, x, y, pup, ntok


@jit
def parse_head_lines(buf, starts, ends, idx, with_eye, nfields, pow10):
    """Parse ``HEAD [EYE] n1 n2 ...`` lines: numbers after the head (and eye) token.

    Returns
    -------
    vals : float64 (m, nfields)
    ntok : int64 (m,)
        Leading fields that parsed as numbers or ``.``.
    eye : uint8 (m,)
        The eye token's byte when it is one character, else 0.
    rest : int64 (m,)
        Byte offset of the first unparsed, non-blank character (the line end when none).
    """
    m = idx.shape[0]
    vals = np.full((m, nfields), np.nan)
    ntok = np.zeros(m, np.int64)
    eye = np.zeros(m, np.uint8)
    rest = np.zeros(m, np.int64)
    for r in range(m):
        p = starts[idx[r]]
        e = ends[idx[r]]
        while p < e and buf[p] != 32 and buf[p] != 9:
            p += 1
        if with_eye:
            while p < e and (buf[p] == 32 or buf[p] == 9):
                p += 1
            q = p
            while q < e and buf[q] != 32 and buf[q] != 9:
                q += 1
            if q - p == 1:
                eye[r] = buf[p]
            p = q
        k = 0
        while k < nfields:
            while p < e and (buf[p] == 32 or buf[p] == 9):
                p += 1
            if p >= e:
                break
            q = p
            while q < e and buf[q] != 32 and buf[q] != 9:
                q += 1
            v, ok = _parse_number(buf, p, q, pow10)
            if not ok:
                break
            vals[r, k] = v
            k += 1
            p = q
        while p < e and (buf[p] == 32 or buf[p] == 9):
            p += 1
        ntok[r] = k
        rest[r] = p
    return vals, ntok, eye, rest


@jit
def lines_containing(buf, begins, ends, pats, plen):
    """For each line ``buf[begins[i]:ends[i]]``: does it contain any of the patterns?"""
    m = begins.shape[0]
    out = np.zeros(m, np.bool_)
    for r in range(m):
        found = False
        for j in range(begins[r], ends[r]):
            for p in range(pats.shape[0]):
                ln = plen[p]
                if j + ln <= ends[r] and buf[j] == pats[p, 0]:
                    ok = True
                    for k in range(1, ln):
                        if buf[j + k] != pats[p, k]:
                            ok = False
                            break
                    if ok:
                        found = True
                        break
            if found:
                break
        out[r] = found
    return out
