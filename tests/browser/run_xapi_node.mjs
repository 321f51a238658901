// The same operations as tincan_page.js with @xapi/xapi (npm) in node: prints {finished, results} as JSON.
// Usage: [XAPI_ADAPTER=fetch] node run_xapi_node.mjs ENDPOINT KEY SECRET RUN
// The test uses the library's "fetch" adapter: with its default axios adapter in node, axios replaces the
// multipart Content-Type of a Blob body (attachments) with application/octet-stream, which the LRS refuses (400).
import XAPI from "@xapi/xapi";

const [endpoint, key, secret, run] = process.argv.slice(2);
const xapi = new XAPI({ endpoint, auth: XAPI.toBasicAuth(key, secret), adapter: process.env.XAPI_ADAPTER,
                        version: process.env.XAPI_VERSION || undefined });
const actor = { objectType: "Agent", name: "Node Learner", mbox: `mailto:node-${run}@example.com` };
const activityId = `https://example.com/node/${run}`;
const results = [];
const record = (op, ok, detail = "") => results.push({ op, ok: !!ok, detail: String(detail) });
const statement = (verb, extra = {}) => ({
  actor, verb: { id: `http://adlnet.gov/expapi/verbs/${verb}`, display: { "en-US": verb } },
  object: { objectType: "Activity", id: activityId }, ...extra,
});
const failure = async (promise) => {  // the HTTP status of a refused request, or 0 if it succeeded
  try { await promise; return 0; } catch (err) {
    if (err.response) return err.response.status;  // axios adapter
    try { return JSON.parse(err.message).error.code; } catch { return -1; }  // fetch adapter: the xAPI error body
  }
};

async function main() {
  const first = statement("experienced");
  let r = await xapi.sendStatement({ statement: first });
  const firstId = r.data[0];
  record("save statement", r.status === 200 && firstId, firstId);

  r = await xapi.sendStatements({ statements: [statement("progressed"), statement("progressed"), statement("progressed")] });
  record("save batch", r.status === 200 && r.data.length === 3, r.data.length);

  const text = `hello from node ${run}`;
  const bytes = new TextEncoder().encode(text);
  const { createHash } = await import("node:crypto");
  const withFile = statement("commented", { attachments: [{
    usageType: "http://id.tincanapi.com/attachment/supporting_media", display: { "en-US": "note" },
    contentType: "text/plain", length: bytes.byteLength, sha2: createHash("sha256").update(bytes).digest("hex") }] });
  r = await xapi.sendStatement({ statement: withFile, attachments: [bytes.buffer] });
  const fileId = r.data[0];
  record("save statement with attachment", r.status === 200 && fileId, fileId);

  r = await xapi.getStatements({ activity: activityId, limit: 2 });
  const seen = [];
  let pages = 0;
  for (;;) {
    pages += 1;
    seen.push(...r.data.statements.map((s) => s.id));
    if (!r.data.more) break;
    r = await xapi.getMoreStatements({ more: r.data.more });
  }
  record("query with more", seen.length === 5 && pages === 3, `statements=${seen.length} pages=${pages}`);

  r = await xapi.voidStatement({ actor, statementId: firstId });
  const voided = await xapi.getVoidedStatement({ voidedStatementId: firstId });
  const gone = await failure(xapi.getStatement({ statementId: firstId }));
  record("void", r.status === 200 && voided.data.id === firstId && gone === 404, `plain GET of the voided id: ${gone}`);

  const where = { agent: actor, activityId, stateId: "bookmark" };
  r = await xapi.setState({ ...where, state: { page: 3 } });
  const created = r.status === 204;
  let got = await xapi.getState(where);
  let etag = got.headers.etag;
  r = await xapi.setState({ ...where, state: { page: 4 }, etag, matchHeader: "If-Match" });
  const stale = await failure(xapi.setState({ ...where, state: { page: 5 }, etag, matchHeader: "If-Match" }));
  got = await xapi.getState(where);
  record("state with ETags", created && etag && r.status === 204 && stale === 412 && got.data.page === 4,
         `etag=${etag} final=${JSON.stringify(got.data)}`);

  const prof = { activityId, profileId: "settings" };
  r = await xapi.setActivityProfile({ ...prof, profile: { theme: "dark" }, etag: "*", matchHeader: "If-None-Match" });
  const made = r.status === 204;
  got = await xapi.getActivityProfile(prof);
  etag = got.headers.etag;
  r = await xapi.setActivityProfile({ ...prof, profile: { theme: "light" }, etag, matchHeader: "If-Match" });
  const exists = await failure(xapi.setActivityProfile({ ...prof, profile: { theme: "x" }, etag: "*",
                                                         matchHeader: "If-None-Match" }));
  got = await xapi.getActivityProfile(prof);
  record("activity profile with ETags", made && etag && r.status === 204 && exists === 412 && got.data.theme === "light",
         `etag=${etag} final=${JSON.stringify(got.data)}`);

  r = await xapi.getStatement({ statementId: fileId, attachments: true });
  const [stmt, ...parts] = r.data;
  const content = parts.length ? String(parts[0]) : "";
  record("read statement with attachments=true", stmt.id === fileId && content.includes(text),
         `parts=${parts.length} content=${JSON.stringify(content.slice(0, 80))}`);

  r = await xapi.getStatements({ activity: activityId, attachments: true, limit: 10 });
  const [page, ...files] = r.data;
  record("query statements with attachments=true",
         page.statements.some((s) => s.id === fileId) && files.some((f) => String(f).includes(text)),
         `statements=${page.statements.length} parts=${files.length}`);
}

let finished = true;
try {
  await main();
} catch (err) {
  finished = false;
  record("exception", false, err.response ? `${err.response.status} ${JSON.stringify(err.response.data)}` : err.stack);
}
process.stdout.write(JSON.stringify({ finished, results }) + "\n");
