"""Objects that sit beside images: neuron morphologies (SWC) and point tables (CSV, Vaa3D .apo).

Pure parsers over bytes or one file: no catalog, no HTTP, no caches. They never raise on bad content;
they report what is wrong (``Defect``) and, when nothing usable is left, a refusal with its reason.
"""

from readers.objects.swc import SWC_TYPE_NAMES, Defect, Morphology, parse_swc

__all__ = ["SWC_TYPE_NAMES", "Defect", "Morphology", "parse_swc"]
