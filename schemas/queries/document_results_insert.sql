-- The outcome of a document command (rows passed as data), written by the worker after the document.
-- insert: [["r1", 204, "bf21a9e8fbc5a3846fb05b4fa0859e0917b2202f", "", 1]]
INSERT INTO document_results (request_id, status, etag, message, created_us) VALUES
