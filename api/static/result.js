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

  function number(value) {
    return Number(value).toFixed(2);
  }

  /* "1.85 — above the match level 1.71", from the thresholds the inspection was decided with. */
  function scoreText(score, thresholds) {
    const values = { score: number(score) };
    if (!thresholds) return values.score;
    values.match = number(thresholds.match);
    values.review = number(thresholds.review);
    if (score >= thresholds.match) return t("{score} — above the match level {match}", values);
    if (score >= thresholds.review) {
      return t("{score} — above the review level {review}, below the match level {match}", values);
    }
    return t("{score} — below the review level {review}", values);
  }

  function legalText(match) {
    switch (match.legal_status) {
      case "expired":
        return t("Expired on {date}", { date: match.valid_until });
      case "not_yet_valid":
        return t("Not yet valid: valid from {date}", { date: match.valid_from });
      case "withdrawn":
        return t("Withdrawn by its owner");
      default:
        return match.valid_until ? t("In force, valid until {date}", { date: match.valid_until }) : t("In force");
    }
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

  /* One sentence on why the verdict is what it is. */
  function why(inspection) {
    const best = inspection.matches[0];
    const levels = inspection.thresholds;
    if (!best) return t("No registered design came close.");
    const values = { name: designName(best), number: best.registration_number || "—", score: number(best.score) };
    if (levels) Object.assign(values, { match: number(levels.match), review: number(levels.review) });
    if (inspection.verdict === "match") {
      const hit = inspection.matches.find((m) => m.level === "match" && m.legal_status === "in_force") || best;
      Object.assign(values, { name: designName(hit), number: hit.registration_number || "—", score: number(hit.score) });
      return t("Design “{name}” ({number}) scores {score}, above the match level {match}, and its registration is in force on the inspection date.", values);
    }
    if (inspection.verdict === "no_match") {
      return levels ? t("The closest design scores {score}, below the review level {review}.", values)
        : t("The closest design scores {score}.", values);
    }
    const barred = inspection.matches.find((m) => m.level === "match");
    if (barred) {
      values.name = designName(barred);
      values.score = number(barred.score);
      if (barred.legal_status === "expired") {
        return t("Design “{name}” scores {score}, above the match level, but its registration expired on {date}: it cannot be a match. Review it.", { ...values, date: barred.valid_until });
      }
      if (barred.legal_status === "not_yet_valid") {
        return t("Design “{name}” scores {score}, above the match level, but its registration is valid only from {date}. Review it.", { ...values, date: barred.valid_from });
      }
      if (barred.legal_status === "withdrawn") {
        return t("Design “{name}” scores {score}, above the match level, but its owner withdrew it. Review it.", values);
      }
      if (barred.covers_destination === false) {
        return t("Design “{name}” scores {score}, above the match level, but it is not registered for {destination}. Review it.", { ...values, destination: inspection.destination });
      }
    }
    return t("The best design scores {score}: above the review level {review}, below the match level {match}. Compare the photo with the design before acting.", values);
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
        const mark = el("span", { class: "mark " + name, title: name });
        mark.style.left = at(value);
        marks.push(mark);
      }
    }
    return el("div", { class: "scorebar", role: "img", "aria-label": scoreText(score, thresholds) }, fill, marks);
  }

  function field(label, value) {
    return value ? [el("dt", {}, label), el("dd", {}, value)] : [];
  }

  /* A design card; with `actions` (a function of the card's status badge) it gets Confirm/Reject. */
  function matchCard(inspection, match, actions) {
    const image = el("img", { alt: designName(match), class: "thumb" });
    LG.showImage(image, match.image_url);
    const top = inspection.matches.length ? inspection.matches[0].score : 0;
    const legal = el("span", { class: "legal " + match.legal_status }, legalText(match));
    return el("article", { class: "match level-" + (match.level || "none"), "data-design": match.design_id },
      image,
      el("div", { class: "match-body" },
        el("div", { class: "match-head" },
          el("span", { class: "rank" }, "#" + match.rank),
          el("strong", {}, designName(match))),
        el("div", { class: "score-line" }, scoreText(match.score, inspection.thresholds)),
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

  return { verdictName, verdictBox, scoreText, legalText, why, scoreBar, matchCard, designName, atReview };
})();
