/* How a verdict and its matches are told, the same on every page: words for the verdict and why,
   each score against the thresholds in use, the legal status of each design, cards and score bars. */
"use strict";

const LGR = (() => {
  const t = LG.t;
  const el = LG.el;

  const VERDICTS = {
    match: [t("Match"), t("The photo shows a registered design that is in force.")],
    review: [t("Review"), t("The photo resembles a registered design: look closer before acting.")],
    no_match: [t("No match"), t("No registered design resembles the photo closely enough.")],
  };

  function verdictName(verdict) {
    return VERDICTS[verdict][0];
  }

  function verdictBox(node, inspection) {
    const [label, text] = VERDICTS[inspection.verdict];
    node.className = "verdict " + inspection.verdict;
    node.replaceChildren(el("strong", {}, label), el("span", {}, text));
  }

  function territoryText(match, destination) {
    if (!match.territories.length) return t("Territories not given");
    const list = match.territories.join(", ");
    if (match.covers_destination === false) {
      return t("Registered for {list}: not for {destination}", { list, destination });
    }
    return list;
  }

  function designName(match) {
    return match.title || match.registration_number || match.design_id;
  }

  function atReview(inspection) {
    return inspection.matches.filter((m) => m.level === "match" || m.level === "review");
  }

  /* A bar from 0 to a little past the match level (or the top score), with marks at both levels. */
  function scoreBar(score, thresholds, top) {
    const high = Math.max(thresholds ? thresholds.match * 1.25 : 1, top * 1.05, 0.01);
    const at = (value) => Math.max(0, Math.min(100, (value / high) * 100)) + "%";
    const fill = el("div", { class: "fill" });
    fill.style.width = at(score);
    const marks = [];
    if (thresholds) {
      for (const [name, value] of [["review", thresholds.review], ["match", thresholds.match]]) {
        const mark = el("span", { class: "mark mark-" + name, title: name });
        mark.style.left = at(value);
        marks.push(mark);
      }
    }
    return el("div", { class: "scorebar", "aria-hidden": "true" }, fill, marks);
  }

  function field(label, value) {
    return value ? [el("dt", {}, label), el("dd", {}, value)] : [];
  }

  /* A design card; with `actions` (a function of the card's status badge) it gets Confirm/Reject. */
  function matchCard(inspection, match, actions) {
    const image = el("img", { alt: designName(match), class: "thumb" });
    LG.showImage(image, match.image_url);
    const top = inspection.matches.length ? inspection.matches[0].score : 0;
    const legal = el("span", { class: "legal " + match.legal_status }, match.legal_text);
    return el("article", { class: "match level-" + (match.level || "none"), "data-design": match.design_id },
      image,
      el("div", { class: "match-body" },
        el("div", { class: "match-head" },
          el("span", { class: "rank" }, "#" + match.rank),
          el("strong", {}, designName(match))),
        el("div", { class: "score-line" }, match.score_text),
        scoreBar(match.score, inspection.thresholds, top),
        legal,
        el("dl", {},
          field(t("Registration"), match.registration_number),
          field(t("Owner"), match.owner),
          field(t("Locarno class"), match.locarno_class),
          field(t("Territories"), territoryText(match, inspection.destination)),
          field(t("Design"), match.design_id)),
        actions ? actions(match) : null));
  }

  return { verdictName, verdictBox, scoreBar, matchCard, designName, atReview };
})();
