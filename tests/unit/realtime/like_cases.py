"""LIKE/ILIKE cases with PostgreSQL's answers: unit-tested against ``like.py`` and checked
against PostgreSQL itself in ``tests/integration/realtime/test_filter_semantics.py``."""

from __future__ import annotations

#: (value, pattern, LIKE, ILIKE); patterns use only PostgreSQL's syntax (no ``*``)
CASES: list[tuple[str, str, bool, bool]] = [
    ("abc", "abc", True, True),
    ("abc", "ABC", False, True),
    ("ABC", "a%", False, True),
    ("abc", "a%", True, True),
    ("abc", "%c", True, True),
    ("abc", "%b%", True, True),
    ("abc", "_b_", True, True),
    ("abc", "__", False, False),
    ("abc", "____", False, False),
    ("abc", "ab", False, False),  # LIKE matches the whole value
    ("", "", True, True),
    ("", "%", True, True),
    ("", "_", False, False),
    ("abc", "", False, False),
    ("abc", "%%%", True, True),
    ("aba", "ab%ba", False, False),  # prefix and suffix may not overlap
    ("abba", "ab%ba", True, True),
    ("abab", "a%b%b", True, True),
    ("ab", "a%b%b", False, False),
    ("aaa", "%aa%aa%", False, False),  # occurrences may not overlap either
    ("aaaa", "%aa%aa%", True, True),
    ("ab", "a_%", True, True),
    ("a", "a_%", False, False),
    ("aXb", "a%_b", True, True),
    ("ab", "a%_b", False, False),
    ("xxaxxbyy", "%a__b%", True, True),
    ("xxaxbyy", "%a__b%", False, False),
    ("mississippi", "m%ss%ss%pi", True, True),
    ("mississippi", "%s_s%", True, True),
    ("mississippi", "%ss_ss%", True, True),
    ("mississippi", "%ss_ss_ss%", False, False),
    ("a%c", "a\\%c", True, True),
    ("abc", "a\\%c", False, False),
    ("a_c", "a\\_c", True, True),
    ("abc", "a\\_c", False, False),
    ("%", "\\%", True, True),
    ("a\\c", "a\\\\c", True, True),
    ("abc", "\\a\\b\\c", True, True),  # an escaped ordinary character is itself
    ("ABC", "\\a%", False, True),
    ("a\nb", "a_b", True, True),  # _ and % match newlines too
    ("a\nb", "a%", True, True),
    ("https://a.example/pricing?x=1", "%/pricing%", True, True),
    ("https://a.example/PRICING", "%/pricing%", False, True),
    ("https://a.example/pricing", "https://_.example/%", True, True),
]

#: (value, pattern): patterns PostgreSQL refuses once matching reaches their trailing
#: escape (with these values it does); a filter refuses them at join, whatever the value
INVALID = [("abc", "ab\\"), ("ab", "\\"), ("x", "%\\")]
