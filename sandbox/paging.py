"""List calls answer one page at a time, at the page sizes AWS documents, so that a client
that reads only the first page is caught here rather than on a large account.

moto 5.2.5 answers Lambda's lists whole, and pages EventBridge's at 50 where AWS pages at 100.
SNS's ListSubscriptionsByTopic already pages at AWS's 100.

Page sizes, from the AWS API references:
- ListFunctions: "returns a maximum of 50 items in each response, even if you set the number
  higher" (https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html).
- ListVersionsByFunction: "returns a maximum of 50 items in each response, even if you set the
  number higher"
  (https://docs.aws.amazon.com/lambda/latest/api/API_ListVersionsByFunction.html).
- ListEventSourceMappings: "returns a maximum of 100 items in each response"
  (https://docs.aws.amazon.com/lambda/latest/api/API_ListEventSourceMappings.html).
- ListFunctionEventInvokeConfigs: MaxItems "Maximum value of 50"
  (https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctionEventInvokeConfigs.html).
- ListAliases: MaxItems may be up to 10000 and the reference names no default page
  (https://docs.aws.amazon.com/lambda/latest/api/API_ListAliases.html); 50 here, as the other
  Lambda lists, so that one function's aliases can span pages.
- ListRules, ListTargetsByRule: "The maximum number of results per page for requests is 100"
  (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_ListRules.html,
  https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_ListTargetsByRule.html).
"""

import json
from collections.abc import Callable
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.responses import LambdaResponse
from moto.events import utils as events_utils

# Response method: (the list's key, the page without MaxItems, the largest page AWS answers).
LAMBDA_LISTS = {
    "list_functions": ("Functions", 50, 50),
    "list_versions_by_function": ("Versions", 50, 50),
    "list_aliases": ("Aliases", 50, 10_000),
    "list_event_source_mappings": ("EventSourceMappings", 100, 100),
    "list_function_event_invoke_configs": ("FunctionEventInvokeConfigs", 50, 50),
}
EVENTBRIDGE_PAGE = 100
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    for method, (key, default, largest) in LAMBDA_LISTS.items():
        original = getattr(LambdaResponse, method)
        setattr(LambdaResponse, method, _paged(original, key, default, largest))
    # moto's paginator reads its model at each call.
    for operation in ("list_rules", "list_targets_by_rule", "list_rule_names_by_target"):
        events_utils.PAGINATION_MODEL[operation]["limit_default"] = EVENTBRIDGE_PAGE


def _paged(original: Callable, key: str, default: int, largest: int) -> Callable:
    """Wraps a moto response method that answers the whole list: the answer keeps the page
    that Marker (our opaque token: an offset) and MaxItems ask for, and NextMarker when more
    follow."""

    def answer(self: LambdaResponse) -> Any:
        whole = original(self)
        status, headers, body = whole if isinstance(whole, tuple) else (200, {}, whole)
        marker = self.querystring.get("Marker", [""])[0]
        asked = self.querystring.get("MaxItems", [""])[0]
        if not all(value == "" or value.isdigit() for value in (marker, asked)):
            raise InvalidParameterValueException(f"Invalid Marker {marker!r} or MaxItems {asked!r}")
        start = int(marker or 0)
        size = min(int(asked) if asked else default, largest)
        listing = json.loads(body)
        items = listing.get(key, [])
        listing[key] = items[start : start + size]
        listing.pop("NextMarker", None)
        if start + size < len(items):
            listing["NextMarker"] = str(start + size)
        return status, headers, json.dumps(listing)

    return answer
