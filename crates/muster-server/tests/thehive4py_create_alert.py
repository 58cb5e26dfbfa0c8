"""Creates alerts in Muster with thehive4py, the way a SIEM integration
written for TheHive 5 does, and checks TheHive's answers.

Usage: thehive4py_create_alert.py URL API_KEY
Prints the created alert as JSON on the last line of stdout. Exits non-zero
(with the reason) when any check fails.
"""

import json
import sys

from thehive4py import TheHiveApi
from thehive4py.errors import TheHiveError


def main() -> int:
    url, apikey = sys.argv[1], sys.argv[2]
    hive = TheHiveApi(url=url, apikey=apikey, max_retries=0)
    alert = {
        "type": "wazuh_alert",
        "source": "wazuh-manager-01",
        "sourceRef": "1709632800.1234567",
        "title": "Multiple authentication failures followed by a success",
        "description": "sshd: 12 failed logins for root from 203.0.113.7, then a success on web-01",
        "severity": 3,
        "date": 1709632800123,
        "tags": ["wazuh", "sshd", "T1110"],
        "tlp": 2,
        "pap": 2,
        "observables": [
            {"dataType": "ip", "data": "203.0.113.7", "message": "source", "ioc": True, "tags": ["attacker"]},
            {"dataType": "hostname", "data": "web-01.corp.example"},
            {"dataType": "hash", "data": "44d88612fea8a8f36de82e1278abb02f"},
            {"dataType": "url", "data": "http://malware.example/payload.sh"},
            {"dataType": "other", "data": "root"},
        ],
    }
    created = hive.alert.create(alert=alert)
    checks = {
        "_type": "Alert",
        "type": alert["type"],
        "source": alert["source"],
        "sourceRef": alert["sourceRef"],
        "title": alert["title"],
        "severity": 3,
        "date": alert["date"],
        "tlp": 2,
        "pap": 2,
        "status": "New",
        "observableCount": 5,
    }
    for key, want in checks.items():
        if created.get(key) != want:
            print(f"created[{key!r}] is {created.get(key)!r}, expected {want!r}: {created}", file=sys.stderr)
            return 1
    if not str(created.get("_id", "")).startswith("alert--"):
        print(f"no Muster alert id in {created}", file=sys.stderr)
        return 1
    # TheHive refuses a second alert with the same type, source and sourceRef.
    try:
        hive.alert.create(alert={**alert, "title": "the same alert again"})
    except TheHiveError as e:
        if "CreateError" not in e.message or "Alert already exists" not in e.message:
            print(f"duplicate refused with an unexpected error: {e.message}", file=sys.stderr)
            return 1
    else:
        print("a duplicate alert was accepted", file=sys.stderr)
        return 1
    print(json.dumps(created))
    return 0


if __name__ == "__main__":
    sys.exit(main())
