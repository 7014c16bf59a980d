// The dashboard's few behaviours: the API key in sessionStorage (sent on every htmx request),
// sign in and out, the role's navigation, the language cookie, charts and authorised downloads.
(function () {
  "use strict";
  var KEY = "sl_key", WHO = "sl_who";
  var body = document.body;
  var page = body.dataset.page;

  function setLang(lang) {
    document.cookie = "sl_lang=" + lang + "; path=/ui; SameSite=Strict";
    location.reload();
  }
  var langSwitch = document.getElementById("lang-switch");
  if (langSwitch) langSwitch.addEventListener("change", function () { setLang(langSwitch.value); });

  if (page === "login") {
    var form = document.getElementById("login-form");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var key = document.getElementById("api-key").value.trim();
      fetch("/auth/whoami", { headers: { Authorization: "Bearer " + key } }).then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      }).then(function (who) {
        sessionStorage.setItem(KEY, key);
        sessionStorage.setItem(WHO, JSON.stringify(who));
        var next = new URLSearchParams(location.search).get("next");
        location.assign(next && next.indexOf("/ui/") === 0 ? next : "/ui/");
      }).catch(function () {
        document.getElementById("login-error").hidden = false;
      });
    });
    return;
  }

  var key = sessionStorage.getItem(KEY);
  if (!key) {
    location.replace("/ui/login?next=" + encodeURIComponent(location.pathname + location.search));
    return;
  }
  var who = JSON.parse(sessionStorage.getItem(WHO) || "{}");
  document.querySelectorAll("[data-roles]").forEach(function (el) {
    if (el.dataset.roles.split(" ").indexOf(who.role) < 0) el.hidden = true;
  });
  var whoEl = document.getElementById("who");
  if (whoEl) {
    var words = JSON.parse(whoEl.dataset.roleWords || "{}");
    whoEl.textContent = (words[who.role] || who.role) + (who.label ? " · " + who.label : "");
  }
  document.getElementById("sign-out").addEventListener("click", function () {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(WHO);
    location.assign("/ui/login");
  });

  body.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["Authorization"] = "Bearer " + sessionStorage.getItem(KEY);
  });
  body.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    if (status === 401) {
      sessionStorage.removeItem(KEY);
      location.replace("/ui/login?next=" + encodeURIComponent(location.pathname + location.search));
      return;
    }
    var target = event.detail.target;
    if (target) target.innerHTML = '<div class="problem" role="alert">' + status + "</div>";
  });

  function chartOption(spec) {
    if (spec.kind === "gauge") {
      return { series: [{ type: "gauge", min: 0, max: Math.max(120, Math.ceil(spec.value / 10) * 10),
        progress: { show: true }, title: { offsetCenter: [0, "75%"] },
        detail: { formatter: "{value}%", fontSize: 22, offsetCenter: [0, "45%"] },
        data: [{ value: spec.value, name: spec.name }] }] };
    }
    if (spec.kind === "funnel") {
      return { tooltip: { trigger: "item" }, series: [{ type: "funnel", sort: "none", left: "10%", width: "80%",
        label: { show: true, position: "inside", formatter: "{b}: {c}" }, data: spec.data }] };
    }
    return { tooltip: {}, grid: { left: 60, right: 20, top: 20, bottom: 60 },
      xAxis: { type: "category", data: spec.names, axisLabel: { rotate: 30 } },
      yAxis: { type: "value" }, series: [{ type: "bar", data: spec.values }] };
  }
  var echartsLoading = false;
  function drawCharts(root) {
    if (!window.echarts) {  // loaded only by pages that draw a chart
      if (!echartsLoading && document.querySelector("[data-chart]")) {
        echartsLoading = true;
        var script = document.createElement("script");
        script.src = body.dataset.echarts;
        script.onload = function () { drawCharts(document); };
        document.head.appendChild(script);
      }
      return;
    }
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) return;
      el.dataset.drawn = "1";
      echarts.init(el, null, { renderer: "svg" }).setOption(Object.assign({ animation: false }, chartOption(JSON.parse(el.dataset.chart))));
    });
  }
  body.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.detail.elt); });

  body.addEventListener("click", function (event) {
    var button = event.target.closest("[data-download]");
    if (!button) return;
    fetch(button.dataset.download, { headers: { Authorization: "Bearer " + sessionStorage.getItem(KEY) } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.blob(); })
      .then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = button.dataset.filename || "download";
        document.body.appendChild(a); a.click(); a.remove();
      }).catch(function (e) { alert(e.message); });
  });
})();
