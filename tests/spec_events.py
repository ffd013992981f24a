"""Required ``data`` fields of Smile's webhook events, copied from the spec's *Event schemas.

Copied rather than read from the spec at test time, so the tests run wherever the repo does.
"""

EVENT_DATA_REQUIRED = {
    "USER_CREATED": {"userId"},
    "ACCOUNT_CREATED": {"userId", "accountId", "providers"},
    "ACCOUNT_CONNECTED": {"userId", "accountId", "loginName", "providers"},
    "ACCOUNT_DISCONNECTED": {"userId", "accountId", "providers"},
    "ACCOUNT_FAILED": {"userId", "accountId", "loginName", "errorCode", "errorMessage", "providers"},
    # A link's data sync (sandbox/userdata.py): TaskStartedEvent, the *AddedEvents, TaskFinishedEvent.
    "TASK_STARTED": {"userId", "sourceId", "sourceType", "taskType", "providers"},
    "IDENTITY_ADDED": {"userId", "accountId", "identityId", "providers"},
    "EMPLOYMENTS_ADDED": {"userId", "accountId", "count", "providers"},
    "INCOMES_ADDED": {"userId", "accountId", "count", "providers"},
    "TRANSACTIONS_ADDED": {"userId", "accountId", "count", "providers"},
    "DOCUMENTS_ADDED": {"userId", "accountId", "count", "providers"},
    "RATING_ADDED": {"userId", "accountId", "ratingId", "providers"},
    "CONTRIBUTIONS_ADDED": {"userId", "accountId", "count", "providers"},
    "TASK_FINISHED": {"userId", "sourceId", "sourceType", "providers", "datapoints", "data"},
}
