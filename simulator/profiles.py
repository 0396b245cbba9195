"""Schema profiles: which of schema.graphql's annotated fields the simulator serves.

`documented` (the default) is Pico's API as pico-api.md documents it, field for
field; `legacy` adds what only the older snapshot of a page shows; `full` adds
the inputs pico-api.md only infers. Sources and profiles are SDL directives in
schema.graphql; this module reads them and builds the executable schema.
"""

from dataclasses import dataclass
from pathlib import Path

from graphql import (
    DirectiveDefinitionNode,
    build_ast_schema,
    parse,
)
from graphql.language import (
    InputObjectTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    StringValueNode,
)

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")

PROFILES = ("documented", "legacy", "full")
DEFAULT_PROFILE = "documented"
SOURCES = ("documented", "inferred", "decision")
ANNOTATIONS = frozenset((*SOURCES, "profile"))


@dataclass(frozen=True)
class Annotated:
    """One schema element: 'Type' or 'Type.field' or 'Type.field(arg)'."""

    path: str
    source: str | None  # documented / inferred / decision (None: not annotated)
    reference: str
    profile: str  # the first profile that serves it


def _directives(node):
    return {directive.name.value: directive for directive in node.directives or ()}


def _argument(directive):
    for argument in directive.arguments:
        if isinstance(argument.value, StringValueNode):
            return argument.value.value
    return ""


def _annotation(path, node):
    found = _directives(node)
    sources = [name for name in SOURCES if name in found]
    source = sources[0] if len(sources) == 1 else None
    profile = _argument(found["profile"]) if "profile" in found else PROFILES[0]
    reference = _argument(found[source]) if source else ""
    return Annotated(path, source, reference, profile)


def load_document(path=SCHEMA_PATH):
    """The annotated SDL as a DocumentNode."""
    return parse(Path(path).read_text(encoding="utf-8"))


def annotations(document=None):
    """Every annotated element of the SDL, in file order."""
    document = document or load_document()
    found = []
    for definition in document.definitions:
        if isinstance(definition, DirectiveDefinitionNode):
            continue
        type_name = definition.name.value
        found.append(_annotation(type_name, definition))
        for field in getattr(definition, "fields", None) or ():
            path = f"{type_name}.{field.name.value}"
            found.append(_annotation(path, field))
            for argument in getattr(field, "arguments", None) or ():
                found.append(_annotation(f"{path}({argument.name.value})", argument))
    return found


def _served(node, profile):
    rank = PROFILES.index(profile)
    found = _directives(node)
    if "profile" not in found:
        return True
    return PROFILES.index(_argument(found["profile"])) <= rank


def _replace(node, **changes):
    """A shallow copy of an AST node with some attributes changed."""
    values = {key: getattr(node, key) for key in node.keys}
    values.update(changes)
    return type(node)(**values)


def _strip(node):
    """A copy of an AST node without the annotation directives."""
    kept = tuple(
        directive
        for directive in node.directives or ()
        if directive.name.value not in ANNOTATIONS
    )
    return _replace(node, directives=kept)


def profile_document(profile=DEFAULT_PROFILE, document=None):
    """The SDL of one profile: unserved types and fields left out, no annotations."""
    if profile not in PROFILES:
        raise ValueError(f"schema profile must be one of {', '.join(PROFILES)}")
    document = document or load_document()
    definitions = []
    for definition in document.definitions:
        if isinstance(definition, DirectiveDefinitionNode):
            continue
        if not _served(definition, profile):
            continue
        clone = _strip(definition)
        if isinstance(
            definition,
            ObjectTypeDefinitionNode
            | InputObjectTypeDefinitionNode
            | ObjectTypeExtensionNode,
        ):
            fields = []
            for field in definition.fields or ():
                if not _served(field, profile):
                    continue
                field_clone = _strip(field)
                if getattr(field, "arguments", None):
                    field_clone = _replace(
                        field_clone,
                        arguments=tuple(_strip(arg) for arg in field.arguments),
                    )
                fields.append(field_clone)
            clone = _replace(clone, fields=tuple(fields))
        definitions.append(clone)
    return _replace(document, definitions=tuple(definitions))


def build_profile_schema(profile=DEFAULT_PROFILE, extensions=()):
    """The executable (resolver-less) schema of one profile, plus extension SDL
    texts (served on request only, e.g. the alpha Work Instructions API)."""
    document = profile_document(profile)
    if extensions:
        # Annotated like schema.graphql, and stripped the same way.
        extra = tuple(
            definition
            for text in extensions
            for definition in profile_document(profile, parse(text)).definitions
        )
        document = _replace(document, definitions=document.definitions + extra)
    return build_ast_schema(document)


def served_fields(schema):
    """'Type.field' of every field and input field of a schema's own types."""
    paths = set()
    for name, type_ in schema.type_map.items():
        if name.startswith("__"):
            continue
        for field_name in getattr(type_, "fields", None) or {}:
            paths.add(f"{name}.{field_name}")
    return paths
