"""The chat API's request and response models: questions, answers with their
citations, conversations, feedback, and the owner's "test your bot"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from shared.api.contract import Body, Query, Reply, rule
from shared.chat.questions import (
    MAX_COMMENT_CHARS,
    MAX_QUESTION_CHARS,
    MAX_TEST_QUESTIONS,
    Source,
    comment_text,
    conversation_ref,
    question_text,
)

QuestionText = Annotated[
    str,
    Field(json_schema_extra={"minLength": 1, "maxLength": MAX_QUESTION_CHARS}),
    rule(question_text),
]
Uuid = Annotated[str, Field(json_schema_extra={"format": "uuid"})]


class Question(Body):
    codes: ClassVar = {
        "question": "bad_question",
        "conversation_id": "bad_conversation_id",
        "via": "bad_via",
    }
    question: QuestionText
    conversation_id: Annotated[Uuid, rule(conversation_ref)] | None = Field(
        None, description="Continue this conversation (follow-up questions read it)"
    )
    via: Source = Field(
        "direct",
        description="Where the question is asked from: `talent` when the chat page was "
        "opened from a talent search's \"ask this person\" link (`?via=talent`); the owner's "
        "insights count these, never who asked",
    )


class TrialQuestions(Body):
    codes: ClassVar = {"questions": "bad_questions", "questions.*": "bad_question"}
    questions: Annotated[list[QuestionText], Field(min_length=1, max_length=MAX_TEST_QUESTIONS)]


class FeedbackBody(Body):
    codes: ClassVar = {"rating": "bad_rating", "comment": "bad_comment"}
    rating: Literal["up", "down"]
    comment: Annotated[
        str | None, Field(json_schema_extra={"maxLength": MAX_COMMENT_CHARS}), rule(comment_text)
    ] = None


class ConversationsQuery(Query):
    bot: str | None = Field(
        None, description="Your bot's slug: the conversations visitors had with it"
    )


class Citation(Reply):
    document_id: Uuid
    title: str
    section: str = Field(description="Section path, e.g. 'Career > Orbit'")
    snippet: str


class QuotaView(Reply):
    limit: int | None = Field(description="null: unlimited")
    remaining: int | None
    reset_at: datetime | None
    scope: Literal["guest", "daily", "unlimited", "bot_budget"]


class Done(Reply):
    """The end of an answer (the SSE ``done`` event)."""

    answerable: bool
    conversation_id: Uuid
    message_id: Uuid
    quota: QuotaView


class AnswerView(Done):
    answer: str
    citations: list[Citation]


class ConversationSummary(Reply):
    id: Uuid
    bot: str | None
    title: str
    created_at: datetime
    updated_at: datetime
    message_count: int
    asker_kind: Literal["guest", "user"] | None = Field(
        None, description="In the owner's view of a bot: who asked, as a kind only"
    )


class ConversationList(Reply):
    conversations: list[ConversationSummary]


class FeedbackView(Reply):
    rating: Literal["up", "down"]
    comment: str | None


class MessageView(Reply):
    id: Uuid
    question: str
    answer: str
    citations: list[Citation]
    answerable: bool
    provider: str | None
    latency_ms: int | None
    created_at: datetime
    feedback: FeedbackView | None


class ConversationView(Reply):
    id: Uuid
    bot: str | None
    title: str
    created_at: datetime
    updated_at: datetime
    view: Literal["asker", "owner"]
    messages: list[MessageView]


class FeedbackSaved(FeedbackView):
    message_id: Uuid
    created_at: datetime
    updated_at: datetime


class Evidence(Reply):
    answerable: bool
    confidence: float
    coverage: float
    coverage_all: float
    absent: float
    similarity: float | None
    legs_agree: bool
    cross_lingual: bool
    absent_name: bool


class TrialResult(Reply):
    question: str
    answerable: bool
    answer: str
    citations: list[Citation]
    evidence: Evidence
    why: list[str] = Field(description="The evidence in words, in the question's language")


class TrialResults(Reply):
    results: list[TrialResult]
