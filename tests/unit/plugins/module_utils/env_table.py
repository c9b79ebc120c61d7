"""Tricky env file lines and the value systemd's EnvironmentFile= gives each.

Shared by the reader's unit tests (test__systemd_env.py beside it) and the
systemd scenario, which writes the same raw lines into a real env file and
compares what a unit and the health job see. The expected values follow
systemd.exec(5) and systemd's src/basic/env-file.c, not the reader.
"""

import secrets

# Django's get_random_secret_key(): 50 characters from this alphabet.
DJANGO_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)"
SPECIALS = "!@#$%^&*(-_=+)"


def django_secret_key():
    return "".join(secrets.choice(DJANGO_ALPHABET) for _position in range(50))


def django_key_with(characters, tries=1000):
    """A get_random_secret_key()-style key holding each of `characters`
    (drawn again until it does, as most such keys do)."""
    for _attempt in range(tries):
        key = django_secret_key()
        if all(char in key for char in characters):
            return key
    raise AssertionError("no key with %r in %d tries" % (characters, tries))


# (raw text of the line(s), key, value the unit gets); None: no variable.
FIXED = [
    ("T_HASH_INSIDE=ab #x", "T_HASH_INSIDE", "ab #x"),
    ("T_AMP=abc&reboot0", "T_AMP", "abc&reboot0"),
    ("T_DOLLAR=abc$HOME", "T_DOLLAR", "abc$HOME"),
    ("T_BRACES=${HOME}x", "T_BRACES", "${HOME}x"),
    ("T_PARENS=k$x(9&a)*b^c#d", "T_PARENS", "k$x(9&a)*b^c#d"),
    ("T_SSRF=a.example # ours,hub.internal", "T_SSRF", "a.example # ours,hub.internal"),
    ("T_SINGLE='it''s' ", "T_SINGLE", "its"),
    ("T_SINGLE_VERBATIM='a \\\" $b \\\\ `c`'", "T_SINGLE_VERBATIM", 'a \\" $b \\\\ `c`'),
    ('T_DOUBLE="say \\"hi\\" to \\$USER"', "T_DOUBLE", 'say "hi" to $USER'),
    ('T_DOUBLE_BACKSLASH="a\\\\b \\n \\`c\\`"', "T_DOUBLE_BACKSLASH", "a\\b \\n `c`"),
    ("T_DOUBLE_SINGLE=\"don't\"", "T_DOUBLE_SINGLE", "don't"),
    ("T_ESCAPED_QUOTE=\\'x\\\"", "T_ESCAPED_QUOTE", "'x\""),
    ("T_BACKSLASH=a\\\\b\\c", "T_BACKSLASH", "a\\bc"),
    ("T_CONTINUED=first \\\n  second", "T_CONTINUED", "first   second"),
    ('T_DOUBLE_CONTINUED="one\\\ntwo"', "T_DOUBLE_CONTINUED", "onetwo"),
    ("T_TRAILING=value with spaces   \t", "T_TRAILING", "value with spaces"),
    ("T_KEPT_TRAILING=kept\\ ", "T_KEPT_TRAILING", "kept "),
    ("   T_AROUND  =   spaced   ", "T_AROUND", "spaced"),
    ("T_EMPTY=", "T_EMPTY", ""),
    ('T_EMPTY_QUOTED=""', "T_EMPTY_QUOTED", ""),
    ("T_QUOTE_INSIDE=a'b\"c", "T_QUOTE_INSIDE", "a'b\"c"),
    ("T_JOINED='a b'\"c d\"e", "T_JOINED", "a bc de"),
    ("T_EQUALS=a=b==", "T_EQUALS", "a=b=="),
    ("# T_COMMENT=hash", "T_COMMENT", None),
    ("; T_SEMICOLON=semicolon", "T_SEMICOLON", None),
    ("  # T_INDENTED=comment", "T_INDENTED", None),
    ("T_SEMI_VALUE=;not a comment", "T_SEMI_VALUE", ";not a comment"),
    ("T_NOT_A_LINE", "T_NOT_A_LINE", None),
    ("T_UNICODE=caf\u00e9 \u2603", "T_UNICODE", "caf\u00e9 \u2603"),
] + [("T_CHAR_%02d=a%sb" % (number, char), "T_CHAR_%02d" % number, "a%sb" % char)
     for number, char in enumerate(SPECIALS + "~`|<>?;'\"\\ {}[]")
     if char not in "'\"\\"]


def table():
    """FIXED, the special characters alone, and 20 fresh Django keys."""
    rows = list(FIXED)
    rows += [("T_ALONE_%02d=%s" % (number, char), "T_ALONE_%02d" % number, char)
             for number, char in enumerate(SPECIALS + "~`|<>")]
    rows += [("T_ALONE_QUOTE=\\'", "T_ALONE_QUOTE", "'"),
             ('T_ALONE_DQUOTE="\\""', "T_ALONE_DQUOTE", '"'),
             ("T_ALONE_BACKSLASH=\\\\", "T_ALONE_BACKSLASH", "\\")]
    for number in range(20):
        key = django_secret_key()
        rows.append(("T_DJANGO_%02d=%s" % (number, key), "T_DJANGO_%02d" % number, key))
    return rows


def env_text(rows):
    """The rows as one env file, one per line."""
    return "".join(raw + "\n" for raw, _key, _value in rows)
