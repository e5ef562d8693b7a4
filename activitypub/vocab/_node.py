"""The machinery every vocabulary class shares: field tables, reading, writing.

A class declares its properties as plain annotated attributes; the
annotation (read once, when the class is created) decides how a value is
read and written, and the JSON name is the attribute in camelCase. Parsing
then is one dict lookup and one small function call per property, with no
reflection per document, which is what keeps the fast path in microseconds.

Instances are dataclasses without ``__slots__`` on purpose: a parsed object
gets the attributes it has in a single ``__dict__.update`` and reads the
rest (None) from the class.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from typing import Any, ClassVar, Self, dataclass_transform

from activitypub.errors import VocabularyError
from activitypub.vocab._values import (
    _ADDRESSING,
    _PUBLIC_ALIASES,
    MAX_DEPTH,
    PUBLIC,
    LangMap,
    Many,
    Reader,
    Unusual,
    Writer,
    _fail,
    _read_bool,
    _read_datetime,
    _read_datetime_or_bool,
    _read_float,
    _read_int,
    _read_json,
    _read_langmap,
    _read_text,
    _read_texts,
    _read_type,
    _Sink,
    _Source,
    _write_datetime,
    _write_json,
    _write_langmap,
    _write_list,
    _write_plain,
    _write_type,
    check_json,
    collect_terms,
)

__all__ = ["MAX_DEPTH", "PUBLIC", "LangMap", "Many", "Node", "Unusual", "build", "lookup_type"]

_TYPES: dict[str, type[Node]] = {}  # type name -> class
_CLASSES: dict[str, type[Node]] = {}  # class name -> class, to resolve annotations
OUTLINE = frozenset({"id", "type", "actor", "object", "attributedTo"})
"""The properties an outline reads: who did what to which object, by whom."""
_AS = "https://www.w3.org/ns/activitystreams#"
# Signatures over a received document's own bytes (FEP-8b32 ``proof``, an
# RsaSignature2017 ``signature``): kept when that document is written back
# whole, left out when it is embedded in another, where they could not verify.
# A document read through pyld compaction spells them as compact IRIs.
_SIGNATURES = frozenset(
    {
        *("proof", "sec:proof", "https://w3id.org/security#proof"),
        *("signature", "sec:signature", "https://w3id.org/security#signature"),
    }
)


# -- references: IRIs and embedded nodes -----------------------------------------


def _type_names(value: Any) -> list[str]:
    if type(value) is str:
        return [value]
    if type(value) is list:
        return value
    return []


def lookup_type(name: str) -> type[Node] | None:
    """The class registered for a type name, also in its ``as:`` and IRI forms."""
    cls = _TYPES.get(name)
    if cls is None and ":" in name:
        if name.startswith("as:"):
            cls = _TYPES.get(name[3:])
        elif name.startswith(_AS):
            cls = _TYPES.get(name[len(_AS) :])
    return cls


def _guess(data: dict[str, Any]) -> type[Node]:
    """The nearest generic class for an object whose type we do not know.

    A property set to null counts as absent, as it does when the object is
    written back, so a round trip keeps the class.
    """

    def has(name: str) -> bool:
        return data.get(name) is not None

    if has("actor"):
        return _TYPES["Activity"] if has("object") else _TYPES["IntransitiveActivity"]
    if has("inbox"):
        return _CLASSES["Actor"]
    if has("orderedItems"):
        return _TYPES["OrderedCollection"]
    if has("items") or has("totalItems"):
        return _TYPES["Collection"]
    if has("href") and not has("content"):
        return _TYPES["Link"]
    return _TYPES["Object"]


def build(
    data: dict[str, Any],
    base: tuple[type[Node], ...],
    depth: int,
    src: _Source,
    *,
    strict: bool = False,
) -> Node:
    """Read one JSON object as the class its ``type`` names (within ``base``).

    A known type outside ``base`` is an error at the top (``strict``); inside
    a document the object is read as ``base`` instead, keeping its type.
    """
    if depth > MAX_DEPTH:
        raise VocabularyError(f"nested deeper than {MAX_DEPTH} levels")
    names = data.get("type")
    cls: type[Node] | None = None
    if names is not None:
        _read_type(names, depth, src)
        for name in _type_names(names):
            cls = lookup_type(name)
            if cls is not None:
                break
        else:
            if src.checking and any(":" in name for name in _type_names(names)):
                raise Unusual
    if cls is not None and not issubclass(cls, base):
        if strict:
            raise VocabularyError(f"a {names!r} is not a {base[0].__name__}")
        cls = None
    if cls is None:
        cls = base[0]
        if cls is _CLASSES["Object"] or len(base) > 1:
            guess = _guess(data)
            if issubclass(guess, base):
                cls = guess
    return cls._read(data, depth, src)


def _ref_reader(classes: tuple[str, ...], strings: bool, many: bool, addressing: bool) -> Reader:
    resolved: list[tuple[type[Node], ...]] = []  # filled on first use: forward references

    def item(value: Any, depth: int, src: _Source) -> Any:
        kind = type(value)
        if kind is dict:
            if not resolved:
                resolved.append(tuple(_CLASSES[name] for name in classes))
            return build(value, resolved[0], depth, src)
        if kind is str and strings:
            if addressing and value in _PUBLIC_ALIASES:
                return PUBLIC
            return value
        if strings:
            raise _fail("an IRI or an object", value)
        raise _fail("an object", value)

    def read(value: Any, depth: int, src: _Source) -> Any:
        if value is None:
            return None
        if type(value) is list and many:
            if depth > MAX_DEPTH:
                raise VocabularyError(f"nested deeper than {MAX_DEPTH} levels")
            out = []
            for index, entry in enumerate(value):
                try:
                    out.append(item(entry, depth + 1, src))
                except VocabularyError as exc:
                    raise VocabularyError(f"[{index}]: {exc}") from None
            return out
        return item(value, depth, src)

    return read


def _write_ref(value: Any, sink: _Sink) -> Any:
    if isinstance(value, Node):
        return value._dump(sink)
    if isinstance(value, list):
        return [v._dump(sink) if isinstance(v, Node) else v for v in value]
    return value


# -- annotations to field kinds -----------------------------------------------------

_PLAIN: dict[str, tuple[Reader, Writer]] = {
    "str": (_read_text, _write_plain),
    "bool": (_read_bool, _write_plain),
    "int": (_read_int, _write_plain),
    "float": (_read_float, _write_plain),
    "datetime": (_read_datetime, _write_datetime),
    "LangMap": (_read_langmap, _write_langmap),
    "JsonValue": (_read_json, _write_json),
}
_NAME = re.compile(r"[A-Za-z_]\w*")
_IGNORED = frozenset({"Many", "None", "list"})
_REF = ("str", "Object", "Link")  # what the alias ``Ref`` stands for


@functools.cache
def _field_io(json_name: str, annotation: str) -> tuple[Reader, Writer]:
    if json_name == "type":
        return _read_type, _write_type
    many = "Many[" in annotation or "list[" in annotation
    names: list[str] = []
    for name in _NAME.findall(annotation):
        if name in _IGNORED:
            continue
        for part in _REF if name == "Ref" else (name,):
            if part not in names:
                names.append(part)
    if names == ["datetime", "bool"]:
        return _read_datetime_or_bool, _write_datetime
    if len(names) == 1 and names[0] in _PLAIN:
        if names[0] == "str" and many:
            return _read_texts, _write_list
        return _PLAIN[names[0]]
    classes = tuple(n for n in names if n != "str")
    if not classes:
        raise TypeError(f"cannot map annotation {annotation!r}")
    addressing = json_name in _ADDRESSING
    return _ref_reader(classes, "str" in names, many, addressing), _write_ref


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# -- the base class ---------------------------------------------------------------


@dataclass_transform(kw_only_default=True, field_specifiers=(dataclasses.field,))
class _Declared:
    """Makes every subclass a keyword-only dataclass with a field table."""

    TYPE: ClassVar[str | None] = None
    _RENAME: ClassVar[dict[str, str]] = {}
    _READ: ClassVar[dict[str, tuple[str, Reader]]] = {}
    _OUTLINE: ClassVar[dict[str, tuple[str, Reader]]] = {}
    _WRITE: ClassVar[dict[str, tuple[str, Writer]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(kw_only=True, repr=False)(cls)
        read: dict[str, tuple[str, Reader]] = {}
        write: dict[str, tuple[str, Writer]] = {}
        for klass in reversed(cls.__mro__):
            for attr, annotation in inspect.get_annotations(klass).items():
                if attr.startswith("_") or attr == "extra" or "ClassVar" in annotation:
                    continue
                json_name = cls._RENAME.get(attr) or camel(attr)
                reader, writer = _field_io(json_name, annotation)
                read[json_name] = (attr, reader)
                write[attr] = (json_name, writer)
        cls._READ = read
        cls._OUTLINE = {k: v for k, v in read.items() if k in OUTLINE}
        cls._WRITE = write
        _CLASSES[cls.__name__] = cls  # type: ignore[assignment]
        if "TYPE" in cls.__dict__ and cls.TYPE:
            _TYPES[cls.TYPE] = cls  # type: ignore[assignment]


class Node(_Declared):
    """A JSON-LD node: typed properties plus ``extra``, everything else it carried.

    ``extra`` holds properties this vocabulary does not model, verbatim, so
    that they survive a round trip; ``to_json`` writes them back after the
    modelled ones.  Except ``proof`` and ``signature`` of an embedded node
    (a received Follow inside our Accept): they sign the received document as
    sent, which a re-serialisation inside another document does not keep, so
    they could only fail to verify, and they would bring the signer's
    contexts into ours.
    """

    id: str | None = None
    type: str | list[str] | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type is None and "TYPE" in type(self).__dict__:
            self.type = type(self).TYPE

    @classmethod
    def _read(cls, data: dict[str, Any], depth: int, src: _Source) -> Self:
        if src.outline:
            return cls._read_outline(data, depth, src)
        fields = cls._READ
        values: dict[str, Any] = {}  # unset fields read the class default, None
        extra: dict[str, Any] = {}
        for key, value in data.items():
            entry = fields.get(key)
            try:
                if entry is None:
                    if type(key) is not str:
                        raise VocabularyError("object keys must be strings")
                    if (
                        src.checking
                        and (":" in key or key[:1] == "@")
                        and (key != "@context" or depth)
                    ):
                        raise Unusual
                    if key == "@context":
                        continue
                    check_json(value, depth + 1)
                    extra[key] = value
                else:
                    values[entry[0]] = entry[1](value, depth + 1, src)
            except VocabularyError as exc:
                raise VocabularyError(f"{key}: {exc}") from None
        values["extra"] = extra
        values["_defs"] = src.defs
        node = cls.__new__(cls)
        node.__dict__.update(values)
        return node

    @classmethod
    def _read_outline(cls, data: dict[str, Any], depth: int, src: _Source) -> Self:
        """:meth:`_read` of the outline properties only (see ``read_outline``)."""
        if src.checking:
            try:
                keys = "\x00".join(data)  # one scan in C finds the keys to look at
            except TypeError:
                raise VocabularyError("object keys must be strings") from None
            if ":" in keys or "@" in keys:
                for key in data:
                    if (":" in key or key[:1] == "@") and (key != "@context" or depth):
                        raise Unusual
        values: dict[str, Any] = {"extra": {}, "_defs": None}
        for key, (attr, reader) in cls._OUTLINE.items():
            value = data.get(key)
            if value is not None:
                try:
                    values[attr] = reader(value, depth + 1, src)
                except VocabularyError as exc:
                    raise VocabularyError(f"{key}: {exc}") from None
        node = cls.__new__(cls)
        node.__dict__.update(values)
        return node

    def _dump(self, sink: _Sink) -> dict[str, Any]:
        attrs = self.__dict__
        writers = self._WRITE
        out: dict[str, Any] = {}
        for attr, value in attrs.items():
            if value is not None:
                entry = writers.get(attr)
                if entry is not None:
                    out[entry[0]] = entry[1](value, sink)
        sink.terms.update(out)
        extra = self.extra
        if extra:
            embedded = self is not sink.root
            for key, value in extra.items():
                if key not in out and key != "@context":
                    if embedded and key in _SIGNATURES:
                        continue
                    out[key] = value
                    sink.terms.add(key)
                    if type(value) is dict or type(value) is list:
                        collect_terms(value, sink.terms)
        defs = attrs.get("_defs")
        if defs and not any(d is defs for d in sink.defs):
            sink.defs.append(defs)
        return out

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Read a parsed JSON document; see :func:`activitypub.vocab.parse`."""
        from activitypub.vocab._parse import read_document

        node = read_document(data, cls)
        assert node is not None  # compact=True: always read
        return node

    def to_json(self) -> dict[str, Any]:
        """Compact JSON with an ``@context`` naming exactly what is used.

        The context is valid JSON-LD whenever the parsed source's was: the
        source's contexts keep their order and their Data Integrity version,
        and nothing redefines a protected term.  A ``proof``/``signature`` of
        this node is written back (it may no longer verify: the bytes
        changed); those of embedded nodes are not.
        """
        from activitypub.vocab._parse import write_document

        return write_document(self)

    def to_bytes(self) -> bytes:
        """``to_json`` as compact UTF-8, ready for a request body."""
        from activitypub.vocab._parse import dumps

        return dumps(self)

    def __repr__(self) -> str:
        shown = [
            f"{attr}={value!r}"
            for attr, value in self.__dict__.items()
            if value is not None and attr not in ("_defs", "extra")
        ]
        if self.extra:
            shown.append(f"extra={self.extra!r}")
        return f"{type(self).__name__}({', '.join(shown)})"
