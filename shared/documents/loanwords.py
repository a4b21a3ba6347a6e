"""Loanwords across scripts: 쿠버네티스 and "Kubernetes" as one term.

Korean career text writes many English words in Hangul (클라우드, 파이프라인, 스타트업,
마이크로서비스) and an English question asks for them in Latin letters, or the reverse.
No word list can hold every product name, so both spellings are reduced to one
*phonetic key* by rule, the way Korean transcribes English:

- a Hangul word: its consonants by sound class (ㄱㅋㄲ → K, ㄷㅌㄸ → T, ㅂㅍㅃ → P,
  ㅅㅆㅈㅉㅊ → S, ㄹ → L, ㅁ → M, ㄴ → N, ㅎ → H, a final ㅇ → Q (ng), a final ㅅ → T);
  vowels, the silent initial ㅇ and the epenthetic ㅡ that Korean puts between English
  consonants (클, 스, 트) carry no consonant;
- an English word: its letters by the same classes (b p f v → P, c k q g → K, soft c
  and g, s z j sh ch th x → S/KS, d t → T, l r → L, ...), with the letters Korean drops:
  an ``r`` not before a vowel (server → 서버, docker → 도커), silent ``e``, ``gh``, ``w``
  and ``y`` as glides; ``tion``/``sion`` → S (트랜잭션);
- repeats of one class in a row are one (pipeline → PPLN → PLN; 파이프라인 → PLN).

Keys of two classes are ambiguous (java and server are both S-P), so they also carry
the class of the first vowel. Keys of one class are never made. A Hangul word gets a
key only when it looks borrowed: one of its syllables is not a Sino-Korean reading
(:data:`SINO_KOREAN`): 서버 (버), 캐시 (캐), 모니터링 (링) do; 배포, 경험, 회사 do not.

Documents store keys as extra index terms, marked by the script they came from
(``%h:`` from Hangul, ``%l:`` from Latin letters); a question asks for the keys of the
*other* script, so an English word never matches itself through its key.
"""

from __future__ import annotations

import functools
import re

HANGUL_MARK = "%h:"  # an index term made from a Hangul word
LATIN_MARK = "%l:"  # an index term made from an English word
MIN_LATIN_LETTERS = 4
MAX_WORD_CHARS = 40

# The syllables that read some Hanja (each the reading of at least three characters in
# the Hanja table of the PyPI package ``hanja`` 0.15.1): the sound inventory of
# Sino-Korean words. A word made only of these is taken as native or Sino-Korean.
SINO_KOREAN = frozenset(
    "가각간갈감갑강개객갱갹거건걸검겁게격견결겸겹경계고곡곤골곳공과곽관괄광괘괴괵굉교구국군굴궁권궐궤"
    "귀규균귤극근글금급긍기긴길나난날남납낭내녀녁년녈념녑녕노농뇌뇨누눈눌뉴뉵능니닉닐님다단달담답당대"
    "덕도독돈돌동두둔둘득등라락란랄람랍랑래략량려력련렬렴렵령례로록론롱뢰료룡루류륙륜률륭륵름릉리린림"
    "립마막만말맘망매맥맹며멱면멸명모목몰몽묘무묵문물미민밀박반발방배백번벌범법벽변별병보복본봉부북분"
    "불붕비빈빙사삭산살삼삽상새색생서석선설섬섭성세소속손솔송쇄쇠수숙순술숭쉬슬습승시식신실심십쌍아악"
    "안알암압앙애액앵야약양어억언얼엄업에여역연열염엽영예오옥온올옹와완왈왕왜외요욕용우욱운울웅원월위"
    "유육윤율융은을음읍응의이익인일임입잉자작잔잠잡장재쟁저적전절점접정제조족존졸종좌죄주죽준줄중즉즐"
    "즙증지직진질짐집징차착찬찰참창채책처척천철첨첩청체초촉촌총촬쵀최추축춘출충췌취측층치칙친칠침칩칭"
    "카쾌타탁탄탈탐탑탕태택탱토톤통퇴투특파판팔패팽편폄평폐포폭표품풍피필핍하학한할함합항해핵행향허헌"
    "험혁현혈혐협형혜호혹혼홀홍화확환활황홰회획횡효후훈훌훤훼휘휴휵휼흉흑흔흘흠흡흥희히힐"
)

# Hangul jamo indexes (Unicode: syllable = 0xAC00 + (initial * 21 + medial) * 28 + final).
_INITIAL = "KKNTTLMPPSSxSSSKTPH"  # ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ (x: silent ㅇ)
_FINAL = ["", "K", "K", "K", "N", "N", "N", "T", "L", "K", "M", "P", "T", "T", "P", "L", "M",
          "P", "P", "T", "T", "Q", "T", "T", "K", "T", "P", ""]  # fmt: skip
# The first vowel's class (two-class keys only): ㅏㅐㅑㅒ A, ㅓㅔㅕㅖ E, ㅗ.. and ㅝ (work
# 워크) O, ㅜ.. U, ㅣ I.
_MEDIAL = "AAAAEEEEOOOOOUOUUUxxI"  # ㅡ (x) is epenthetic; ㅢ (x) too rare to matter
_LATIN_VOWEL = {"a": "A", "e": "E", "i": "I", "o": "O", "u": "U", "y": "I"}
_VOWELS = frozenset("aeiouy")

_SINGLE = {
    "b": "P", "p": "P", "f": "P", "v": "P",
    "k": "K", "q": "K", "d": "T", "t": "T",
    "s": "S", "z": "S", "j": "S",
    "l": "L", "r": "L", "m": "M", "n": "N", "h": "H",
}  # fmt: skip
_DIGRAPHS = (
    ("tch", "S"), ("sch", "S"), ("tio", "S"), ("sio", "S"), ("tia", "S"),
    ("ph", "P"), ("sh", "S"), ("ch", "S"), ("th", "S"), ("ck", "K"), ("qu", "K"),
    ("gh", ""), ("ng", "Q"), ("wh", ""), ("wr", "L"), ("kn", "N"), ("ps", "S"),
)  # fmt: skip
_LATIN_WORD = re.compile(r"[a-z]+")


def is_hangul_syllable(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def looks_borrowed(word: str) -> bool:
    """A Hangul word one of whose syllables no Sino-Korean word uses (서버, 캐시)."""
    return any(is_hangul_syllable(ch) and ch not in SINO_KOREAN for ch in word)


def _finish(classes: list[str], first_vowel: str) -> str | None:
    collapsed: list[str] = []
    for c in classes:
        if c and (not collapsed or collapsed[-1] != c):
            collapsed.append(c)
    if len(collapsed) < 2:
        return None
    key = "".join(collapsed)
    if len(collapsed) == 2:
        if not first_vowel:
            return None
        key += first_vowel.lower()
    return key


@functools.lru_cache(maxsize=1 << 16)
def hangul_key(word: str) -> str | None:
    """The phonetic key of a Hangul word, or None (too short, or not borrowed-looking)."""
    if len(word) < 2 or len(word) > MAX_WORD_CHARS or not all(map(is_hangul_syllable, word)):
        return None
    if not looks_borrowed(word):
        return None
    classes: list[str] = []
    first_vowel = ""
    for ch in word:
        index = ord(ch) - 0xAC00
        initial, rest = divmod(index, 21 * 28)
        medial, final = divmod(rest, 28)
        cls = _INITIAL[initial]
        if cls != "x":
            classes.append(cls)
        vowel = _MEDIAL[medial]
        if not first_vowel and vowel != "x":
            first_vowel = vowel
        classes.append(_FINAL[final])
    return _finish(classes, first_vowel)


def _latin_classes(word: str) -> tuple[list[str], str]:
    classes: list[str] = []
    first_vowel = ""
    i, n = 0, len(word)
    while i < n:
        ch = word[i]
        if ch in _VOWELS:
            if ch == "y" and i == 0:  # a glide: yaml, yarn
                i += 1
                continue
            if not first_vowel:
                # "ai" is written 에 (air 에어, email 이메일 aside)
                first_vowel = "E" if word.startswith("ai", i) else _LATIN_VOWEL[ch]
            i += 1
            continue
        if ch == "x":
            classes += ["K", "S"]
            i += 1
            continue
        for graph, cls in _DIGRAPHS:
            if graph == "ng" and i + 2 < n and word[i + 2] in _VOWELS:
                continue  # engine, angular: an n, then the g of the next syllable
            if word.startswith(graph, i) and not (graph in ("kn", "ps", "wr") and i):
                if graph in ("tio", "sio", "tia"):
                    classes.append(cls)
                    i += 2  # the vowel after stays a vowel
                else:
                    classes.append(cls)
                    i += len(graph)
                break
        else:
            following = word[i + 1] if i + 1 < n else ""
            if ch == "r":
                # Korean drops an r that no vowel follows (server 서버), and before a
                # final silent e (core 코어).
                if following in _VOWELS and not (following == "e" and i + 2 == n):
                    classes.append("L")
            elif ch == "c":
                classes.append("S" if following in ("e", "i", "y") else "K")
            elif ch == "g":
                classes.append("S" if following in ("e", "i", "y") and i else "K")
            elif ch == "w":
                pass  # a glide
            elif ch == "h":
                if i == 0 or word[i - 1] not in _VOWELS:
                    classes.append("H")
            elif ch == "m" and following == "b" and i + 2 == n:
                classes.append("M")  # climb
                i += 1
            elif ch in _SINGLE:
                classes.append(_SINGLE[ch])
            i += 1
    return classes, first_vowel


@functools.lru_cache(maxsize=1 << 16)
def latin_keys(word: str) -> tuple[str, ...]:
    """The phonetic keys of an English word (lower case letters): as written and, for a
    plural, singular (Korean writes microservices as 마이크로서비스)."""
    if len(word) < MIN_LATIN_LETTERS or len(word) > MAX_WORD_CHARS or not word.isalpha():
        return ()
    forms = [word]
    if word.endswith("ies") and len(word) > 5:
        forms.append(word[:-3] + "y")
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 4:
        forms.append(word[:-1])
    keys: list[str] = []
    for form in forms:
        key = _finish(*_latin_classes(form))
        if key and key not in keys:
            keys.append(key)
    return tuple(keys)


def latin_words(text: str) -> list[str]:
    """The letter runs of ``text``, lower-cased (words of a mixed token too: MicroK8s)."""
    return _LATIN_WORD.findall(text.lower())
