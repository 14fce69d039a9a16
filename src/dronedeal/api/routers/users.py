"""Users over HTTP: who am I, and (admins) making a user, whose token is shown once."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dronedeal.api.deps import Viewer, Writing, WritingViewer
from dronedeal.api.problems import ApiProblem
from dronedeal.services import access, users

router = APIRouter(prefix="/users", tags=["users"])


class UserModel(BaseModel):
    user_id: str
    name: str
    role: str
    party_id: str | None
    country: str | None


class NewUserRequest(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Annotated[str, Field(max_length=16)]
    party_id: Annotated[str | None, Field(max_length=64)] = None


class NewUserModel(BaseModel):
    user: UserModel
    token: str


def _model(user: users.User) -> UserModel:
    return UserModel(user_id=user.user_id, name=user.name, role=user.role,
                     party_id=user.party_id, country=user.country)


@router.get("/me", response_model=UserModel)
def who_am_i(viewer: Viewer) -> Any:
    """The user the bearer token belongs to."""
    if viewer is None:
        raise access.NotAuthenticatedError("send a bearer token to be someone")
    return _model(viewer)


@router.post("", response_model=NewUserModel, status_code=201)
def create_user(body: NewUserRequest, session: Writing, viewer: WritingViewer) -> Any:
    """Make a user (admins only); the answer holds its token, shown this once."""
    access.require(viewer, "users")
    try:
        made = users.create_user(session, name=body.name, role=body.role,
                                 party_id=body.party_id)
    except users.UserError as wrong:
        raise ApiProblem(422, str(wrong)) from None
    return NewUserModel(user=_model(made.user), token=made.token)
