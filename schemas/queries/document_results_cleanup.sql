-- Forget command results older than the documents topic can replay (a mutation; runs in the background).
-- params: {"before_us": 1}
ALTER TABLE document_results DELETE WHERE created_us < %(before_us)s
