"""systemd's own test inputs for EnvironmentFile=, and what systemd gives a unit.

Shared by the reader's unit tests (test__systemd_env.py beside it) and the
systemd scenario (tests/infra/systemd/test_systemd_cases.py), where the
image's own systemd loads every input through a oneshot unit and is the judge.

Read in (the inputs are the tests' data, transcribed as bytes; the expected
results are what systemd's src/basic/env-file.c, env-util.c, utf8.c and
fileio.c do with them, not what our reader does):
- v252.39 as Debian 12 ships it (`apt-get source systemd`, 252.39-1~deb12u2):
  src/test/test-env-file.c, src/test/test-fileio.c (parse_env_file,
  parse_multiline_env_file and load_env_file_pairs lived there) and
  src/test/test-execute.c;
- upstream's current src/test/test-env-file.c (commit 0002453b of
  src/basic/env-file.c, ASSERT_* era; the fileio cases moved there);
- v247.3 (Debian 11) and v257.13 (Debian 13) for the differences.

A unit gets the environment after load_env_file() and strv_env_clean(): an
assignment whose key is not a valid name (such as "export nine") is dropped,
though load_env_file's own test lists it.

Only the rules for comments differ between those versions: before v254
(Debian 11's v247, Debian 12's v252) a backslash at the end of a comment line
continues the comment on the next line; from v254 on (Debian 13's v257,
upstream) it does not. A case whose result differs says so in `before_254`.
"""

import collections

# The whole file refused: load_env_file fails (-EINVAL, -EBADMSG), the unit
# does not start. line: where our reader says the first reason is.
Refused = collections.namedtuple("Refused", "line")

Case = collections.namedtuple("Case", "name source data expected before_254")
V252 = "v252.39 src/test/test-env-file.c"
FILEIO = "v252.39 src/test/test-fileio.c, upstream src/test/test-env-file.c"
UPSTREAM = "upstream src/test/test-env-file.c"
EXECUTE = "v252.39 src/test/test-execute.c"
RULE = "rule of v252.39 src/basic/env-file.c, env-util.c, utf8.c, fileio.c"
COMMENT_CONTINUES_BEFORE = 254


def case(name, source, data, expected, before_254=None):
    return Case(name, source, data if isinstance(data, bytes) else data.encode("utf-8"), expected,
                expected if before_254 is None else before_254)


# test-execute.c's env file, in the unit exec-environmentfile.service and in
# exec-execsearchpath-environmentfile.service (path_not_set: the same text).
_EXECUTE = ("VAR1='word1 word2'\n"
            "VAR2=word3 \n"
            "# comment1\n"
            "\n"
            "; comment2\n"
            " ; # comment3\n"
            "line without an equal\n"
            "VAR3='$word 5 6'\n"
            "VAR4='new\nline'\n"
            "VAR5=password\\with\\backslashes")
_EXECUTE_ENV = {"VAR1": "word1 word2", "VAR2": "word3", "VAR3": "$word 5 6", "VAR4": "new\nline",
                "VAR5": "passwordwithbackslashes"}

_SPAMD = "#SPAMD_ARGS=\"-d --socketpath=/var/lib/bulwark/spamd \\\n"
_NOUSER = "#--nouser-config                                     \\\n"


def _padded(text):
    """A line of env_file_3: blanks up to column 53, a backslash, a newline."""
    return text.ljust(53) + "\\\n"


# write_and_load_env_file: each value, written by systemd's write_env_file
# (double quotes with " \ ` $ escaped when the value has a blank, a control
# character or one of "\`$*?['()<>|&;!), then loaded back.
_WRITTEN = [
    ("obbardc-laptop", "TEST=obbardc-laptop\n"),
    ("obbardc\\-laptop", 'TEST="obbardc\\\\-laptop"\n'),
    ("obbardc-lap\\top", 'TEST="obbardc-lap\\\\top"\n'),
    ("obbardc-lap\\\\top", 'TEST="obbardc-lap\\\\\\\\top"\n'),
    ("double\"quote", 'TEST="double\\"quote"\n'),
    ("single'quote", "TEST=\"single'quote\"\n"),
    ("dollar$dollar", 'TEST="dollar\\$dollar"\n'),
    ("newline\nnewline", 'TEST="newline\nnewline"\n'),
]

CASES = [
    case("load_env_file_1", V252,
         "a=a\n"
         "a=b\n"
         "a=b\n"
         "a=a\n"
         "b=b\\\n"
         "c\n"
         "d= d\\\n"
         "e  \\\n"
         "f  \n"
         "g=g\\ \n"
         "h= \u0105\u0119\u00f3\u0142\\ \u015b\u0107\u0144\u017a\u017c\u00b5 \n"
         "i=i\\",
         {"a": "a", "b": "bc", "d": "de  f", "g": "g ",
          "h": "\u0105\u0119\u00f3\u0142 \u015b\u0107\u0144\u017a\u017c\u00b5", "i": "i"}),
    # Upstream ends h with U+03BC (Greek mu) where v252 has U+00B5 (micro sign).
    case("load_env_file_1_upstream", UPSTREAM,
         "h= \u0105\u0119\u00f3\u0142\\ \u015b\u0107\u0144\u017a\u017c\u03bc \n",
         {"h": "\u0105\u0119\u00f3\u0142 \u015b\u0107\u0144\u017a\u017c\u03bc"}),
    case("load_env_file_2", V252, "a=a\\\n", {"a": "a"}),
    # v252's input: before v254 all of it is one continued comment; from v254
    # on the comments end at their lines and "normal" takes the rest.
    case("load_env_file_3", V252,
         _SPAMD + _NOUSER + _padded("normal=line") + _padded(";normal=ignored") + _padded("normal_ignored")
         + _padded("normal ignored"),
         {"normal": "line".ljust(53 - 7) + ";normal=ignored".ljust(53) + "normal_ignored".ljust(53)
          + "normal ignored".ljust(53)},
         before_254={}),
    case("load_env_file_3_upstream", UPSTREAM,
         _SPAMD + _NOUSER
         + "normal1=line\\\n"
         + "111\n"
         + _padded(";normal=ignored")
         + "normal2=line222\n"
         + _padded("normal ignored"),
         {"normal1": "line111", "normal2": "line222"},
         before_254={}),
    case("load_env_file_4", V252,
         "# Generated\n"
         "\n"
         "HWMON_MODULES=\"coretemp f71882fg\"\n"
         "\n"
         "# For compatibility reasons\n"
         "\n"
         "MODULE_0=coretemp\n"
         "MODULE_1=f71882fg",
         {"HWMON_MODULES": "coretemp f71882fg", "MODULE_0": "coretemp", "MODULE_1": "f71882fg"}),
    case("load_env_file_5", V252, "a=\nb=", {"a": "", "b": ""}),
    case("load_env_file_6", V252,
         "a=\\ \\n \\t \\x \\y \\' \n"
         "b= \\$'                  \n"
         "c= ' \\n\\t\\$\\`\\\\\n"
         "'   \n"
         "d= \" \\n\\t\\$\\`\\\\\n"
         "\"   \n",
         {"a": " n t x y '", "b": "$'", "c": " \\n\\t\\$\\`\\\\\n", "d": " \\n\\t$`\\\n"}),
    case("load_env_file_invalid_utf8_key", V252, "fo\ufffeo=bar", Refused(1)),
    case("load_env_file_invalid_utf8_value", V252, "foo=b\uffffar", Refused(1)),
    case("load_env_file_invalid_utf8_end", V252, "baz=hello world\ufffe", Refused(1)),
] + [
    case("write_and_load_env_file_%d" % number, V252, written, {"TEST": value})
    for number, (value, written) in enumerate(_WRITTEN)
] + [
    # Upstream writes three header lines first.
    case("write_and_load_env_file_headers", UPSTREAM, "# header 1\n\n# header 2\n" + _WRITTEN[7][1],
         {"TEST": "newline\nnewline"}),
    case("parse_env_file", FILEIO,
         "one=BAR   \n"
         "# comment\n"
         " # comment \n"
         " ; comment \n"
         "  two   =   bar    \n"
         "invalid line\n"
         "invalid line #comment\n"
         "three = \"333\n"
         "xxxx\"\n"
         "four = '44\\\"44'\n"
         "five = \"55\\\"55\" \"FIVE\" cinco   \n"
         "six = seis sechs\\\n"
         " sis\n"
         "seven=\"sevenval\" #nocomment\n"
         "eight=eightval #nocomment\n"
         "export nine=nineval\n"
         "ten=ignored\n"
         "ten=ignored\n"
         "ten=\n"
         "eleven=\\value\n"
         "twelve=\"\\value\"\n"
         "thirteen='\\value'",
         {"one": "BAR", "two": "bar", "three": "333\nxxxx", "four": "44\\\"44", "five": "55\"55FIVEcinco",
          "six": "seis sechs sis", "seven": "sevenval#nocomment", "eight": "eightval #nocomment",
          "ten": "", "eleven": "value", "twelve": "\\value", "thirteen": "\\value"}),
    case("parse_multiline_env_file", FILEIO,
         "one=BAR\\\n"
         "\\ \\ \\ \\ VAR\\\n"
         "\\\tGAR\n"
         "#comment\n"
         "two=\"bar\\\n"
         "    var\\\n"
         "\tgar\"\n"
         "#comment\n"
         "tri=\"bar \\\n"
         "    var \\\n"
         "\tgar \"\n",
         {"one": "BAR    VAR\tGAR", "two": "bar    var\tgar", "tri": "bar     var \tgar "}),
    case("load_env_file_pairs", FILEIO,
         "NAME=\"Arch Linux\"\n"
         "ID=arch\n"
         "PRETTY_NAME=\"Arch Linux\"\n"
         "ANSI_COLOR=\"0;36\"\n"
         "HOME_URL=\"https://www.archlinux.org/\"\n"
         "SUPPORT_URL=\"https://bbs.archlinux.org/\"\n"
         "BUG_REPORT_URL=\"https://bugs.archlinux.org/\"\n",
         {"NAME": "Arch Linux", "ID": "arch", "PRETTY_NAME": "Arch Linux", "ANSI_COLOR": "0;36",
          "HOME_URL": "https://www.archlinux.org/", "SUPPORT_URL": "https://bbs.archlinux.org/",
          "BUG_REPORT_URL": "https://bugs.archlinux.org/"}),
    case("exec-environmentfile.service", EXECUTE, _EXECUTE, _EXECUTE_ENV),
    case("exec-execsearchpath-environmentfile-set.service", EXECUTE, _EXECUTE + "\nPATH=/usr",
         dict(_EXECUTE_ENV, PATH="/usr")),
    # Rules of the source that no test of systemd's covers.
    case("control_characters_are_kept", RULE,
         "CR=\"a\rb\"\nESC=a\x1bb\nBS='a\x08b'\nDEL=a\x7fb\nC1=a\u0085b\n",
         {"CR": "a\rb", "ESC": "a\x1bb", "BS": "a\x08b", "DEL": "a\x7fb", "C1": "a\u0085b"}),
    case("a_bare_carriage_return_ends_the_line", RULE, "A=a\rb=c\r\nB=2\r\n", {"A": "a", "b": "c", "B": "2"}),
    case("invalid_bytes_in_a_comment_or_a_line_without_equals_are_not_checked", RULE,
         b"# caf\xe9\nnot an assignment \xff\nA=1\n", {"A": "1"}),
    case("invalid_utf8_refuses_the_file_at_its_line", RULE, b"A=1\n# x\nB=caf\xe9\nC=3\n", Refused(3)),
    case("invalid_utf8_in_a_key", RULE, b"A=1\nK\xff=1\n", Refused(2)),
    case("a_utf8_encoded_surrogate", RULE, b"A=\xed\xa0\x80\n", Refused(1)),
    case("an_overlong_encoding", RULE, b"A=\xc0\xaf\n", Refused(1)),
    case("a_noncharacter_of_the_reserved_block", RULE, "A=1\nB=\ufdd0\n", Refused(2)),
    case("a_noncharacter_of_another_plane", RULE, "A=\U0001fffe\n", Refused(1)),
    case("the_highest_code_points_that_are_not_noncharacters", RULE, "A=\U0010fffd\ufffd\n",
         {"A": "\U0010fffd\ufffd"}),
    case("a_nul_byte_anywhere", RULE, b"A=1\n# \x00\n", Refused(2)),
    case("the_last_assignment_wins_then_invalid_names_are_dropped", RULE,
         "A=1\nA=2\n1X=no\nA-B=no\nexport C=no\n_ok=yes\n", {"A": "2", "_ok": "yes"}),
    # A comment line ending in a backslash: the next line is a comment too before v254.
    case("a_comment_continued_by_a_backslash", RULE, "# comment \\\nA=1\nB=2\n", {"A": "1", "B": "2"},
         before_254={"B": "2"}),
    case("a_comment_with_an_escaped_backslash_ends", RULE, "# comment \\\\\nA=1\n", {"A": "1"}),
    case("a_comment_escape_in_the_middle_of_a_line", RULE, "# a \\x b \\\nA=1\n", {"A": "1"},
         before_254={}),
]


def expected(case_, systemd):
    """What systemd (a major version, or None for upstream) gives a unit."""
    if systemd is not None and systemd < COMMENT_CONTINUES_BEFORE:
        return case_.before_254
    return case_.expected
