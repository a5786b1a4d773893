"""gradseg: segmentation networks trained on gaze track maps read from a gazeprep cache.

gradseg meets gazeprep at the cache format and takes nothing from gazeprep but its contract
package (:mod:`gazeprep.contract`: the cache format and its ``validate``, the batched row
reads, the rule that turns an image file into pixels, the input error). The layout:
:mod:`gradseg.data` (what the trainer reads), :mod:`gradseg.models` (the networks),
:mod:`gradseg.methods` (each method's fields, networks and loss), :mod:`gradseg.train`
(the trainer's phases), :mod:`gradseg.evaluate` and :mod:`gradseg.predict`.
"""

__version__ = "0.1.0"
