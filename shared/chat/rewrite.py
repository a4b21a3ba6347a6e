"""Follow-up questions: detect them and, without an LLM, make them stand alone.

"What did she do there?" after "Where did she work in 2021?" cannot be retrieved on its
own. The rule appends the previous stand-alone question as context, so its terms reach
the lexical and vector legs; an LLM, when configured, rewrites it properly instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from shared.chat.generation import Turn
from shared.documents.lexical import terms

_ANAPHORA = re.compile(
    r"(?i)\b(it|its|that|those|these|this|there|then|they|them|he|she|him|her|his|"
    r"the same|what about|how about|and|also|more|why|how so)\b"
    r"|(그것|그거|그건|그게|그곳|거기|그때|그\s|이\s|저\s|그럼|그러면|그래서|왜요|"
    r"그리고|또|더|자세히|구체적으로|그\s*회사|그\s*프로젝트|그\s*분)"
)
MAX_FOLLOW_UP_TERMS = 4


def is_follow_up(question: str) -> bool:
    """Short questions, or ones leaning on the conversation ("there", "그 회사")."""
    return len(terms(question)) <= MAX_FOLLOW_UP_TERMS or bool(_ANAPHORA.search(question))


def rule_rewrite(question: str, history: Sequence[Turn]) -> str:
    if not history:
        return question
    previous = history[-1].question
    return f"{question} ({previous})"
