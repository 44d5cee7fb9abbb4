"""A small writer of VBA projects (``vbaProject.bin``) following [MS-OVBA] and [MS-CFB], for building the
workbook on any OS.

No common tool writes *new* VBA into an Office file outside Windows (openpyxl only carries an existing
vbaProject.bin along). The format is documented, and a project needs only source code: with ``_VBA_PROJECT``
version 0xFFFF there is no compiled p-code, so Office compiles the modules from source when the file opens.

* :func:`compress` - the MS-OVBA run-length/LZ77 compression (2.4.1), checked against oletools' decompressor;
* :func:`dir_stream`, :func:`project_stream` - the project information records (2.3.4.2) and the PROJECT text;
* :func:`write_cfb` - a minimal compound file (version 3, 512-byte sectors, mini stream below 4096 bytes);
* :func:`vba_project` - all of it: modules in, the bytes of ``vbaProject.bin`` out.
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

# ------------------------------------------------------------------------------------------------------------
# MS-OVBA 2.4.1 compression
# ------------------------------------------------------------------------------------------------------------
CHUNK = 4096


def _copy_token_split(position: int) -> tuple[int, int]:
    """(length mask, bit count of the offset) for a copy token at ``position`` bytes into the chunk (2.4.1.3.19.1)."""
    bit_count = max((position - 1).bit_length(), 4)
    return 0xFFFF >> bit_count, bit_count


def _compress_chunk(chunk: bytes) -> bytes:
    out = bytearray()
    pos = 0
    index: dict[bytes, list[int]] = {}
    n = len(chunk)
    while pos < n:
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if pos >= n:
                break
            length_mask, bit_count = _copy_token_split(pos)
            max_length = length_mask + 3
            best_len, best_off = 0, 0
            key = chunk[pos:pos + 3]
            if len(key) == 3:
                for candidate in reversed(index.get(key, [])):
                    length = 3
                    limit = min(max_length, n - pos)
                    while length < limit and chunk[candidate + length] == chunk[pos + length]:
                        length += 1
                    if length > best_len:
                        best_len, best_off = length, pos - candidate
                        if length == limit:
                            break
            if best_len >= 3:
                token = ((best_off - 1) << (16 - bit_count)) | (best_len - 3)
                out += struct.pack("<H", token)
                flags |= 1 << bit
                step = best_len
            else:
                out.append(chunk[pos])
                step = 1
            for p in range(pos, min(pos + step, n - 2)):
                index.setdefault(chunk[p:p + 3], []).append(p)
            pos += step
        out[flag_at] = flags
    return bytes(out)


def compress(data: bytes) -> bytes:
    """A CompressedContainer: signature 0x01, then one chunk per 4096 bytes (raw when compression does not pay)."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), CHUNK):
        chunk = data[start:start + CHUNK]
        packed = _compress_chunk(chunk)
        if len(packed) > CHUNK - 2 and len(chunk) == CHUNK:
            out += struct.pack("<H", 0x3000 | (CHUNK - 1)) + chunk          # uncompressed chunk
        else:
            out += struct.pack("<H", 0xB000 | (len(packed) + 2 - 3)) + packed
    return bytes(out)


# ------------------------------------------------------------------------------------------------------------
# the project: modules, dir stream, PROJECT stream
# ------------------------------------------------------------------------------------------------------------
@dataclass
class Module:
    """One VBA module. ``kind``: "module" (standard .bas), "document" (ThisWorkbook, sheets) or "class"."""

    name: str
    code: str
    kind: str = "module"

    def source(self) -> bytes:
        """The module text as stored: attribute header, CRLF line ends, cp1252."""
        if self.kind == "class":
            return self._class_source()
        header = [f'Attribute VB_Name = "{self.name}"']
        if self.kind == "document":
            base = "0{00020819-0000-0000-C000-000000000046}" if self.name == "ThisWorkbook" else \
                "0{00020820-0000-0000-C000-000000000046}"
            header += [f'Attribute VB_Base = "{base}"', "Attribute VB_GlobalNameSpace = False",
                       "Attribute VB_Creatable = False", "Attribute VB_PredeclaredId = True",
                       "Attribute VB_Exposed = True", "Attribute VB_TemplateDerived = False",
                       "Attribute VB_Customizable = True"]
        body = self.code.replace("\r\n", "\n").rstrip("\n")
        if body.startswith("Attribute VB_Name"):
            header = []  # the source carries its own attributes (e.g. a class exported from the VBE)
        text = "\r\n".join(header + ([body] if body else [])) + "\r\n"
        return text.encode("cp1252")

    def _class_source(self) -> bytes:
        """A class module as the VBE stores it. An exported .cls starts with a ``VERSION 1.0 CLASS / BEGIN ... END``
        block that is not part of the stored source; the stored header also carries VB_Base (the class GUID),
        VB_TemplateDerived and VB_Customizable, which exports leave out."""
        lines = self.code.replace("\r\n", "\n").rstrip("\n").split("\n")
        if lines and lines[0].startswith("VERSION "):
            lines = lines[lines.index("END") + 1:]
        attributes = [l for l in lines if l.startswith("Attribute VB_")]
        body = lines[len(attributes):] if lines[:len(attributes)] == attributes else \
            [l for l in lines if not l.startswith("Attribute VB_")]
        named = {l.split("=")[0].strip(): l for l in attributes}
        header = [f'Attribute VB_Name = "{self.name}"', 'Attribute VB_Base = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"']
        for key, default in (("Attribute VB_GlobalNameSpace", "False"), ("Attribute VB_Creatable", "False"),
                             ("Attribute VB_PredeclaredId", "False"), ("Attribute VB_Exposed", "False"),
                             ("Attribute VB_TemplateDerived", "False"), ("Attribute VB_Customizable", "False")):
            header.append(named.pop(key, f"{key} = {default}"))
        named.pop("Attribute VB_Name", None)
        named.pop("Attribute VB_Base", None)
        header += list(named.values())   # e.g. VB_Description
        return ("\r\n".join(header + body) + "\r\n").encode("cp1252")


OFFICE_REFERENCES = [
    ("stdole", "*\\G{00020430-0000-0000-C000-000000000046}#2.0#0#C:\\Windows\\System32\\stdole2.tlb#OLE Automation"),
    # version 2.0 as in xlwings' own template workbook: VBA binds the installed (newer) Office library to it
    ("Office", "*\\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#C:\\Program Files\\Common Files\\Microsoft Shared"
               "\\OFFICE16\\MSO.DLL#Microsoft Office 16.0 Object Library"),
]


def _record(record_id: int, data: bytes) -> bytes:
    return struct.pack("<HI", record_id, len(data)) + data


def _text_pair(record_id: int, reserved_id: int, text: str) -> bytes:
    mbcs, unicode = text.encode("cp1252"), text.encode("utf-16-le")
    return struct.pack("<HI", record_id, len(mbcs)) + mbcs + struct.pack("<HI", reserved_id, len(unicode)) + unicode


def dir_stream(modules: list[Module], project_name: str = "VBAProject", references=OFFICE_REFERENCES) -> bytes:
    """The uncompressed ``dir`` stream (MS-OVBA 2.3.4.2)."""
    out = bytearray()
    out += _record(0x0001, struct.pack("<I", 3))          # PROJECTSYSKIND: 64-bit Windows (read by 32-bit too)
    out += _record(0x0002, struct.pack("<I", 0x0409))     # PROJECTLCID
    out += _record(0x0014, struct.pack("<I", 0x0409))     # PROJECTLCIDINVOKE
    out += _record(0x0003, struct.pack("<H", 1252))       # PROJECTCODEPAGE
    out += _record(0x0004, project_name.encode("cp1252"))  # PROJECTNAME
    out += _text_pair(0x0005, 0x0040, "")                 # PROJECTDOCSTRING
    out += _text_pair(0x0006, 0x003D, "")                 # PROJECTHELPFILEPATH
    out += _record(0x0007, struct.pack("<I", 0))          # PROJECTHELPCONTEXT
    out += _record(0x0008, struct.pack("<I", 0))          # PROJECTLIBFLAGS
    out += struct.pack("<HIIH", 0x0009, 4, 1, 0)          # PROJECTVERSION (Reserved=4, major, minor)
    out += _text_pair(0x000C, 0x003C, "")                 # PROJECTCONSTANTS
    for name, libid in references:
        out += _text_pair(0x0016, 0x003E, name)           # REFERENCENAME
        lib = libid.encode("cp1252")
        out += _record(0x000D, struct.pack("<I", len(lib)) + lib + struct.pack("<IH", 0, 0))  # REFERENCEREGISTERED
    out += _record(0x000F, struct.pack("<H", len(modules)))  # PROJECTMODULES
    out += _record(0x0013, struct.pack("<H", 0xFFFF))        # PROJECTCOOKIE
    for module in modules:
        out += _record(0x0019, module.name.encode("cp1252"))          # MODULENAME
        out += _record(0x0047, module.name.encode("utf-16-le"))       # MODULENAMEUNICODE
        out += _text_pair(0x001A, 0x0032, module.name)                 # MODULESTREAMNAME
        out += _text_pair(0x001C, 0x0048, "")                          # MODULEDOCSTRING
        out += _record(0x0031, struct.pack("<I", 0))                   # MODULEOFFSET: source at 0, no p-code
        out += _record(0x001E, struct.pack("<I", 0))                   # MODULEHELPCONTEXT
        out += _record(0x002C, struct.pack("<H", 0xFFFF))              # MODULECOOKIE
        out += _record(0x0021 if module.kind == "module" else 0x0022, b"")  # MODULETYPE
        out += _record(0x002B, b"")                                    # module terminator
    out += _record(0x0010, b"")                                        # dir terminator
    return bytes(out)


def project_stream(modules: list[Module], project_id: str, project_name: str = "VBAProject") -> bytes:
    """The PROJECT stream (MS-OVBA 2.3.1): text properties of an unprotected, visible project."""
    lines = [f'ID="{{{project_id}}}"']
    for module in modules:
        if module.kind == "document":
            lines.append(f"Document={module.name}/&H00000000")
        elif module.kind == "class":
            lines.append(f"Class={module.name}")
        else:
            lines.append(f"Module={module.name}")
    # CMG/DPB/GC: the encrypted "no protection / no password / visible" values (as Excel writes them for any
    # unprotected project; MS-OVBA 2.4.3 data encryption of fixed states)
    lines += [f'Name="{project_name}"', 'HelpContextID="0"', 'VersionCompatible32="393222000"',
              'CMG="8D8FA61394EA98EA98EA98EA98"', 'DPB="8D8FA61394EF95EF95EF"', 'GC="8D8FA61394EF95EF9510"', "",
              "[Host Extender Info]", "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000", "",
              "[Workspace]"]
    lines += [f"{module.name}=0, 0, 0, 0, C" for module in modules]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def project_wm_stream(modules: list[Module]) -> bytes:
    """PROJECTwm: module names in MBCS and UTF-16, a map Office uses for non-ASCII names."""
    out = bytearray()
    for module in modules:
        out += module.name.encode("cp1252") + b"\x00" + module.name.encode("utf-16-le") + b"\x00\x00"
    return bytes(out) + b"\x00\x00"


# 0x61CC, version 0xFFFF (no p-code: compile the source), 0x00, then 0x0001 as in xlwings' Excel-saved template
VBA_PROJECT_STREAM = bytes([0xCC, 0x61, 0xFF, 0xFF, 0x00, 0x01, 0x00])


def vba_project(modules: list[Module], project_id: str | None = None) -> bytes:
    """The bytes of a vbaProject.bin holding these modules (source only)."""
    project_id = project_id or str(uuid.uuid5(uuid.NAMESPACE_URL, "xlatsm:" + ",".join(m.name for m in modules))).upper()
    vba = {"_VBA_PROJECT": VBA_PROJECT_STREAM, "dir": compress(dir_stream(modules))}
    for module in modules:
        vba[module.name] = compress(module.source())
    return write_cfb({"VBA": vba, "PROJECT": project_stream(modules, project_id),
                      "PROJECTwm": project_wm_stream(modules)})


# ------------------------------------------------------------------------------------------------------------
# MS-CFB: a minimal compound file writer
# ------------------------------------------------------------------------------------------------------------
SECTOR, MINI, CUTOFF = 512, 64, 4096
FREESECT, ENDOFCHAIN, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
NOSTREAM = 0xFFFFFFFF


def _cfb_key(name: str):
    """CFB sibling order: shorter names first, then by upper-cased UTF-16 code units."""
    return len(name), name.upper()


@dataclass
class _Entry:
    name: str
    kind: int            # 1 storage, 2 stream, 5 root
    data: bytes = b""
    children: list | None = None
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    color: int = 1       # 0 red, 1 black
    start: int = ENDOFCHAIN
    size: int = 0


def _balanced(entries: list[_Entry], ids: list[int], depth: int, out_depths: dict) -> int:
    """Root id of a balanced binary search tree over ``ids`` (already sorted), recording node depths."""
    if not ids:
        return NOSTREAM
    mid = len(ids) // 2
    node = ids[mid]
    out_depths[node] = depth
    entries[node].left = _balanced(entries, ids[:mid], depth + 1, out_depths)
    entries[node].right = _balanced(entries, ids[mid + 1:], depth + 1, out_depths)
    return node


def write_cfb(tree: dict) -> bytes:
    """A compound file from nested dicts: ``{name: bytes | dict}`` (a dict is a storage)."""
    entries: list[_Entry] = [_Entry("Root Entry", 5)]

    def add(storage_id: int, content: dict) -> None:
        child_ids = []
        for name, value in content.items():
            if isinstance(value, dict):
                entries.append(_Entry(name, 1))
                child_ids.append(len(entries) - 1)
                add(len(entries) - 1, value)
            else:
                entries.append(_Entry(name, 2, data=bytes(value), size=len(value)))
                child_ids.append(len(entries) - 1)
        child_ids.sort(key=lambda i: _cfb_key(entries[i].name))
        depths: dict[int, int] = {}
        entries[storage_id].child = _balanced(entries, child_ids, 0, depths)
        # a tree built by halving has its leaves on the two deepest levels: black everywhere except the deepest
        # level of an incomplete tree, which makes it a valid red-black tree
        if depths:
            deepest = max(depths.values())
            full = len(child_ids) == 2 ** (deepest + 1) - 1
            for i, d in depths.items():
                entries[i].color = 0 if (d == deepest and not full and deepest > 0) else 1

    add(0, tree)

    # mini stream for small streams, regular sectors for the rest
    mini = bytearray()
    mini_fat: list[int] = []
    big: list[_Entry] = []
    for entry in entries:
        if entry.kind != 2:
            continue
        if entry.size < CUTOFF:
            if entry.size == 0:
                entry.start = ENDOFCHAIN
                continue
            first = len(mini) // MINI
            n = -(-entry.size // MINI)
            mini += entry.data + b"\x00" * (n * MINI - entry.size)
            mini_fat += [first + i + 1 for i in range(n - 1)] + [ENDOFCHAIN]
            entry.start = first
        else:
            big.append(entry)

    sectors: list[bytes] = []
    fat: list[int] = []

    def place(data: bytes) -> int:
        if not data:
            return ENDOFCHAIN
        n = -(-len(data) // SECTOR)
        first = len(sectors)
        padded = data + b"\x00" * (n * SECTOR - len(data))
        for i in range(n):
            sectors.append(padded[i * SECTOR:(i + 1) * SECTOR])
            fat.append(first + i + 1 if i < n - 1 else ENDOFCHAIN)
        return first

    for entry in big:
        entry.start = place(entry.data)
    entries[0].start = place(bytes(mini)) if mini else ENDOFCHAIN
    entries[0].size = len(mini)
    mini_fat_bytes = b"".join(struct.pack("<I", v) for v in mini_fat)
    mini_fat_start = place(mini_fat_bytes + b"\xff" * (-len(mini_fat_bytes) % SECTOR)) if mini_fat else ENDOFCHAIN
    n_mini_fat = -(-len(mini_fat_bytes) // SECTOR)

    directory = bytearray()
    for entry in entries:
        name = entry.name.encode("utf-16-le") + b"\x00\x00"
        directory += name + b"\x00" * (64 - len(name))
        directory += struct.pack("<HBB", len(name), entry.kind, entry.color)
        directory += struct.pack("<III", entry.left, entry.right, entry.child)
        directory += b"\x00" * 16 + struct.pack("<I", 0) + b"\x00" * 16   # clsid, state bits, times
        directory += struct.pack("<IQ", entry.start if entry.kind != 1 else 0, entry.size)
    empty = b"\x00" * 64 + struct.pack("<HBB", 0, 0, 0) + struct.pack("<III", NOSTREAM, NOSTREAM, NOSTREAM) + \
        b"\x00" * 36 + struct.pack("<IQ", 0, 0)
    while len(directory) % SECTOR:
        directory += empty
    dir_start = place(bytes(directory))

    # the FAT itself: enough sectors to map every sector including its own
    n_data = len(sectors)
    n_fat = 1
    while n_fat * (SECTOR // 4) < n_data + n_fat:
        n_fat += 1
    if n_fat > 109:
        raise ValueError("project too large for a header-only FAT (over 6.9 MB)")
    fat_start = len(sectors)
    fat += [FATSECT] * n_fat
    fat += [FREESECT] * (n_fat * (SECTOR // 4) - len(fat))
    fat_bytes = b"".join(struct.pack("<I", v) for v in fat)
    for i in range(n_fat):
        sectors.append(fat_bytes[i * SECTOR:(i + 1) * SECTOR])

    header = bytearray()
    header += bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 16
    header += struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
    header += b"\x00" * 6 + struct.pack("<I", 0)                 # reserved, number of directory sectors (v3: 0)
    header += struct.pack("<I", n_fat) + struct.pack("<I", dir_start) + struct.pack("<I", 0)   # transaction sig
    header += struct.pack("<I", CUTOFF) + struct.pack("<I", mini_fat_start) + struct.pack("<I", n_mini_fat)
    header += struct.pack("<I", ENDOFCHAIN) + struct.pack("<I", 0)   # no DIFAT sectors
    difat = [fat_start + i for i in range(n_fat)] + [FREESECT] * (109 - n_fat)
    header += b"".join(struct.pack("<I", v) for v in difat)
    assert len(header) == SECTOR
    return bytes(header) + b"".join(sectors)
