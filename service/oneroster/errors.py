"""OneRoster's errors: the binding's `imsx_StatusInfo` object in place of problem details, for
every error on its paths (FrontDoor asks `answer_for`). The code minor says what failed:
invalid_filter_field, invalid_selection_field, invaliddata, unauthorisedrequest, forbidden,
unknownobject, internal_server_error."""

from typing import Any

from service.problems import Problem
from service.web import JSONResponse

CODE_MINOR_BY_STATUS = {
    400: "invaliddata",
    401: "unauthorisedrequest",
    403: "forbidden",
    404: "unknownobject",
    405: "invaliddata",
    422: "invaliddata",
}


class OneRosterError(Problem):
    """An error with its OneRoster code minor."""

    def __init__(self, status: int, code_minor: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code_minor = code_minor


def invalid_filter(description: str) -> OneRosterError:
    return OneRosterError(400, "invalid_filter_field", description)


def invalid_selection(description: str) -> OneRosterError:
    return OneRosterError(400, "invalid_selection_field", description)


def invalid_data(description: str) -> OneRosterError:
    return OneRosterError(400, "invaliddata", description)


def unknown_object(description: str) -> OneRosterError:
    return OneRosterError(404, "unknownobject", description)


def status_info(problem: Problem) -> dict[str, Any]:
    code_minor = getattr(problem, "code_minor", None) or CODE_MINOR_BY_STATUS.get(
        problem.status, "internal_server_error"
    )
    return {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": problem.detail,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": code_minor,
                }
            ]
        },
    }


def status_info_response(problem: Problem) -> JSONResponse:
    """The answer to a problem met on a OneRoster path, its headers (WWW-Authenticate,
    Retry-After) kept."""
    return JSONResponse(status_info(problem), status_code=problem.status, headers=problem.headers)
