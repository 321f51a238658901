/* TinCanJS operations a course runs, each recorded in window.__results as {op, ok, detail}; window.__done at
   the end. Parameters in the page's query string: endpoint, key, secret, run (a unique id for this run). */
(function () {
    "use strict";
    var q = new URLSearchParams(window.location.search);
    var run = q.get("run");
    var lrs;
    var actor = new TinCan.Agent({name: "Browser Learner", mbox: "mailto:browser-" + run + "@example.com"});
    var activity = new TinCan.Activity({id: "https://example.com/browser/" + run,
                                        definition: {name: {"en-US": "Browser course"}}});
    var results = window.__results = [];

    function record(op, ok, detail) {
        results.push({op: op, ok: !!ok, detail: detail === undefined ? "" : String(detail)});
        document.getElementById("log").textContent += op + ": " + (ok ? "ok" : "FAILED") + " " + (detail || "") + "\n";
    }
    function call(fn) {  // a TinCanJS callback API as a promise of [err, result]
        return new Promise(function (resolve) { fn(function (err, result) { resolve([err, result]); }); });
    }
    function status(err, xhr) {
        return err === null ? "" : "err=" + err + " status=" + (xhr && xhr.status) + " " + (xhr && xhr.responseText);
    }
    function statement(verb, extra) {
        var cfg = {actor: actor, verb: {id: "http://adlnet.gov/expapi/verbs/" + verb, display: {"en-US": verb}},
                   target: activity};
        Object.keys(extra || {}).forEach(function (k) { cfg[k] = extra[k]; });
        return new TinCan.Statement(cfg);
    }

    async function main() {
        lrs = new TinCan.LRS({endpoint: q.get("endpoint"), username: q.get("key"), password: q.get("secret"),
                              allowFail: false});  // TinCanJS 0.50 speaks 1.0.2 (a 1.0.x version)
        var r, first = statement("experienced");
        r = await call(function (cb) { lrs.saveStatement(first, {callback: cb}); });
        record("save statement", r[0] === null, status(r[0], r[1]));

        var batch = [statement("progressed"), statement("progressed"), statement("progressed")];
        r = await call(function (cb) { lrs.saveStatements(batch, {callback: cb}); });
        record("save batch", r[0] === null, status(r[0], r[1]));

        var attachment = new TinCan.Attachment({usageType: "http://id.tincanapi.com/attachment/supporting_media",
                                                display: {"en-US": "note"}, contentType: "text/plain"});
        attachment.setContentFromString("hello from the browser " + run);
        var withFile = statement("commented", {attachments: [attachment]});
        r = await call(function (cb) { lrs.saveStatement(withFile, {callback: cb}); });
        record("save statement with attachment", r[0] === null, status(r[0], r[1]));

        r = await call(function (cb) { lrs.queryStatements({params: {activity: activity, limit: 2}, callback: cb}); });
        var seen = [], pages = 0, result = r[1];
        var ok = r[0] === null && result.statements.length === 2 && !!result.more;
        while (ok) {
            pages += 1;
            result.statements.forEach(function (s) { seen.push(s.id); });
            if (!result.more) { break; }
            r = await call(function (cb) { lrs.moreStatements({url: result.more, callback: cb}); });
            ok = r[0] === null;
            result = r[1];
        }
        record("query with more", ok && seen.length === 5 && pages === 3, "statements=" + seen.length + " pages=" + pages);

        var voiding = statement("voided", {target: new TinCan.StatementRef({id: first.id})});
        voiding.verb = new TinCan.Verb({id: "http://adlnet.gov/expapi/verbs/voided", display: {"en-US": "voided"}});
        r = await call(function (cb) { lrs.saveStatement(voiding, {callback: cb}); });
        var saved = r[0] === null;
        r = await call(function (cb) { lrs.retrieveVoidedStatement(first.id, {callback: cb}); });
        var voided = r[0] === null && r[1] && r[1].id === first.id;
        r = await call(function (cb) { lrs.retrieveStatement(first.id, {callback: cb}); });
        record("void", saved && voided && r[0] !== null, "plain GET of the voided id: err=" + r[0]);

        var where = {activity: activity, agent: actor, contentType: "application/json"};
        r = await call(function (cb) { lrs.saveState("bookmark", {page: 3}, Object.assign({callback: cb}, where)); });
        var created = r[0] === null;
        r = await call(function (cb) { lrs.retrieveState("bookmark", Object.assign({callback: cb}, where)); });
        var state = r[1], etag = state && state.etag;
        r = await call(function (cb) {
            lrs.saveState("bookmark", {page: 4}, Object.assign({callback: cb, lastSHA1: etag}, where));
        });
        var updated = r[0] === null;
        r = await call(function (cb) {
            lrs.saveState("bookmark", {page: 5}, Object.assign({callback: cb, lastSHA1: etag}, where));
        });
        var stale = r[0] !== null && r[1].status === 412;
        r = await call(function (cb) { lrs.retrieveState("bookmark", Object.assign({callback: cb}, where)); });
        record("state with ETags", created && !!etag && updated && stale && r[1].contents.page === 4,
               "etag=" + etag + " final=" + JSON.stringify(r[1] && r[1].contents));

        var prof = {activity: activity, contentType: "application/json"};
        r = await call(function (cb) { lrs.saveActivityProfile("settings", {theme: "dark"}, Object.assign({callback: cb}, prof)); });
        created = r[0] === null;  // sent with If-None-Match: *
        r = await call(function (cb) { lrs.retrieveActivityProfile("settings", Object.assign({callback: cb}, prof)); });
        etag = r[1] && r[1].etag;
        r = await call(function (cb) {
            lrs.saveActivityProfile("settings", {theme: "light"}, Object.assign({callback: cb, lastSHA1: etag}, prof));
        });
        updated = r[0] === null;
        r = await call(function (cb) { lrs.saveActivityProfile("settings", {theme: "x"}, Object.assign({callback: cb}, prof)); });
        var exists = r[0] !== null && r[1].status === 412;  // If-None-Match: * on an existing document
        r = await call(function (cb) { lrs.retrieveActivityProfile("settings", Object.assign({callback: cb}, prof)); });
        record("activity profile with ETags", created && !!etag && updated && exists && r[1].contents.theme === "light",
               "etag=" + etag + " final=" + JSON.stringify(r[1] && r[1].contents));

        r = await call(function (cb) { lrs.retrieveStatement(withFile.id, {params: {attachments: true}, callback: cb}); });
        var got = r[1], text = got && got.attachments && got.attachments[0] && got.attachments[0].getContentAsString();
        record("read statement with attachments=true", r[0] === null && text === "hello from the browser " + run,
               "content=" + JSON.stringify(text));

        r = await call(function (cb) {
            lrs.queryStatements({params: {activity: activity, attachments: true, limit: 10}, callback: cb});
        });
        var found = r[0] === null ? r[1].statements.filter(function (s) { return s.id === withFile.id; }) : [];
        text = found.length && found[0].attachments[0].getContentAsString();
        record("query statements with attachments=true", text === "hello from the browser " + run,
               "statements=" + (r[1] && r[1].statements ? r[1].statements.length : r[0]));
    }

    window.addEventListener("load", function () {
        main().catch(function (e) { record("exception", false, (e && e.stack) || JSON.stringify(e)); })
              .then(function () { window.__done = true; });
    });
}());
