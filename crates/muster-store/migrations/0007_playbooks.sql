-- CACAO playbooks: the library (every imported version kept), runs, their
-- execution-status records, analysts' manual tasks, automation rules and the
-- runs they propose.
-- Authentication info never sits here in the clear: `document` holds it
-- redacted, `auth_sealed` the original sealed with the server's key.

CREATE TABLE playbooks (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    playbook_id TEXT NOT NULL,
    modified    TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    document    TEXT NOT NULL,
    auth_sealed TEXT,
    imported_by TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    archived_at BIGINT,
    UNIQUE (org_id, playbook_id, modified)
);
CREATE INDEX playbooks_org ON playbooks(org_id, playbook_id, imported_at);

CREATE TABLE playbook_runs (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organisations(id),
    version_id   TEXT NOT NULL REFERENCES playbooks(id),
    playbook_id  TEXT NOT NULL,
    incident_id  TEXT REFERENCES incidents(id),
    rule_id      TEXT,
    status       TEXT NOT NULL,
    status_text  TEXT,
    inputs_sealed TEXT NOT NULL,
    variables    TEXT NOT NULL DEFAULT '{}',
    started_by   TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    ended_at     BIGINT
);
CREATE INDEX playbook_runs_org ON playbook_runs(org_id, started_at);
CREATE INDEX playbook_runs_status ON playbook_runs(status);
CREATE INDEX playbook_runs_incident ON playbook_runs(incident_id);

CREATE TABLE playbook_run_steps (
    id            TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES playbook_runs(id),
    seq           BIGINT NOT NULL,
    occurrence    TEXT NOT NULL,
    workflow_step TEXT NOT NULL,
    playbook_id   TEXT NOT NULL,
    status        TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    record        TEXT NOT NULL
);
CREATE INDEX playbook_run_steps_run ON playbook_run_steps(run_id, seq);

CREATE TABLE playbook_tasks (
    id           TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES playbook_runs(id),
    org_id       TEXT NOT NULL REFERENCES organisations(id),
    incident_id  TEXT,
    occurrence   TEXT NOT NULL,
    step_id      TEXT NOT NULL,
    title        TEXT NOT NULL,
    instructions TEXT NOT NULL DEFAULT '',
    out_args     TEXT NOT NULL DEFAULT '[]',
    status       TEXT NOT NULL,
    result       TEXT,
    completed_by TEXT,
    created_at   BIGINT NOT NULL,
    completed_at BIGINT,
    UNIQUE (run_id, occurrence)
);
CREATE INDEX playbook_tasks_org ON playbook_tasks(org_id, status, created_at);

CREATE TABLE automation_rules (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    name        TEXT NOT NULL,
    enabled     BIGINT NOT NULL DEFAULT 1,
    trigger_on  TEXT NOT NULL,
    conditions  TEXT NOT NULL DEFAULT '{}',
    playbook_id TEXT NOT NULL,
    mode        TEXT NOT NULL,
    variables   TEXT NOT NULL DEFAULT '{}',
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX automation_rules_org ON automation_rules(org_id, trigger_on);

CREATE TABLE automation_proposals (
    id          TEXT PRIMARY KEY,
    rule_id     TEXT NOT NULL REFERENCES automation_rules(id),
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    playbook_id TEXT NOT NULL,
    mode        TEXT NOT NULL,
    status      TEXT NOT NULL,
    inputs_sealed TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    decided_by  TEXT,
    decided_at  BIGINT,
    run_id      TEXT
);
CREATE INDEX automation_proposals_incident ON automation_proposals(incident_id, status);
