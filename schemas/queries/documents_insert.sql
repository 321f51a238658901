-- New versions of documents (rows passed as data), written only by the documents worker.
-- insert: [["t", "state", "https://example.com/a1", "mbox:mailto:a@example.com", "", "s1", "e30=", "application/json", "bf21a9e8fbc5a3846fb05b4fa0859e0917b2202f", 1, 0, "r1", 1]]
INSERT INTO documents (tenant, resource, activity_id, agent, registration, doc_id, content, content_type, etag,
                       updated_us, deleted, request_id, version) VALUES
