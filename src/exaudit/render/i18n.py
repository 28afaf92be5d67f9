"""English and French texts of the reports and letters: the same facts, written for each language.

Every visible sentence of a report goes through :func:`text`. French follows the usual typography
(a space before ``:`` ``;`` ``?`` ``!``), dates stay ISO 8601 and are labelled UTC in both languages.
"""

from __future__ import annotations

from typing import Any

LANGS = ("en", "fr")

_TEXTS: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------------ report frame
    "title": {"en": "Microsoft Exchange audit report", "fr": "Rapport d'audit Microsoft Exchange"},
    "generated": {"en": "Generated {time} UTC by exaudit {version}", "fr": "Produit le {time} UTC par exaudit {version}"},
    "runs": {"en": "Runs included", "fr": "Exécutions incluses"},
    "times_utc": {"en": "All times are ISO 8601 in UTC.", "fr": "Toutes les heures sont au format ISO 8601, en UTC."},
    "tlp": {"en": "Sharing: TLP:{tlp}", "fr": "Diffusion : TLP:{tlp}"},
    "masked_note": {
        "en": "Session tokens and passwords found in the evidence are masked as [MASKED] in this document; "
        "the canonical JSON output keeps the raw evidence.",
        "fr": "Les jetons de session et les mots de passe trouvés dans les traces sont masqués ([MASKED]) dans ce document ; "
        "la sortie JSON canonique conserve les traces brutes.",
    },
    "verdicts": {"en": "Verdict per server", "fr": "Verdict par serveur"},
    "server": {"en": "Server", "fr": "Serveur"},
    "exposure": {"en": "Exposure", "fr": "Exposition"},
    "compromise": {"en": "Compromise", "fr": "Compromission"},
    "build": {"en": "Build", "fr": "Version (build)"},
    "install": {"en": "Install", "fr": "À installer"},
    "no_servers": {"en": "No Exchange server in these runs.", "fr": "Aucun serveur Exchange dans ces exécutions."},
    "other_targets": {
        "en": "{count} other scanned target(s) were unreachable or not Exchange (see the JSON output).",
        "fr": "{count} autre(s) cible(s) analysée(s) injoignable(s) ou sans Exchange (voir la sortie JSON).",
    },
    "findings": {"en": "Findings by severity", "fr": "Constats par gravité"},
    "no_findings": {"en": "No finding.", "fr": "Aucun constat."},
    "rule": {"en": "Rule", "fr": "Règle"},
    "host": {"en": "Server", "fr": "Serveur"},
    "cves": {"en": "CVEs", "fr": "CVE"},
    "attack": {"en": "ATT&CK", "fr": "ATT&CK"},
    "first_seen": {"en": "First seen (UTC)", "fr": "Première occurrence (UTC)"},
    "last_seen": {"en": "Last seen (UTC)", "fr": "Dernière occurrence (UTC)"},
    "count": {"en": "Occurrences", "fr": "Occurrences"},
    "source": {"en": "Source", "fr": "Source"},
    "evidence": {"en": "Evidence", "fr": "Trace"},
    "confidence": {"en": "Confidence", "fr": "Confiance"},
    "stage": {"en": "Stage", "fr": "Étape"},
    "references": {"en": "References", "fr": "Références"},
    "timeline": {"en": "Attack timeline", "fr": "Chronologie de l'attaque"},
    "timeline_chart": {
        "en": "Timeline chart: one row per server, one mark per event, colour by severity (UTC).",
        "fr": "Chronologie : une ligne par serveur, une marque par événement, couleur selon la gravité (UTC).",
    },
    "timeline_more": {"en": "{count} more events in the JSON output.", "fr": "{count} autres événements dans la sortie JSON."},
    "no_timeline": {"en": "No timestamped event.", "fr": "Aucun événement horodaté."},
    "time": {"en": "Time (UTC)", "fr": "Heure (UTC)"},
    "event": {"en": "Event", "fr": "Événement"},
    "indicators": {"en": "Indicators of compromise", "fr": "Indicateurs de compromission"},
    "no_indicators": {"en": "No indicator.", "fr": "Aucun indicateur."},
    "ind_ips": {"en": "IP addresses", "fr": "Adresses IP"},
    "ind_urls": {"en": "URLs", "fr": "URL"},
    "ind_files": {"en": "Files", "fr": "Fichiers"},
    "ind_user_agents": {"en": "User agents", "fr": "User-agents"},
    "coverage": {"en": "Log coverage", "fr": "Couverture des journaux"},
    "coverage_note": {
        "en": "A verdict of no evidence only holds for the period the logs cover.",
        "fr": "L'absence de trace ne vaut que pour la période couverte par les journaux.",
    },
    "artifact": {"en": "Log type", "fr": "Type de journal"},
    "files": {"en": "Files", "fr": "Fichiers"},
    "records": {"en": "Records", "fr": "Enregistrements"},
    "first": {"en": "From (UTC)", "fr": "Du (UTC)"},
    "last": {"en": "To (UTC)", "fr": "Au (UTC)"},
    "days": {"en": "Days", "fr": "Jours"},
    "gaps": {"en": "Gaps", "fr": "Lacunes"},
    "no_coverage": {"en": "No log was read for this server.", "fr": "Aucun journal lu pour ce serveur."},
    "inputs": {"en": "Evidence read (chain of custody)", "fr": "Éléments de preuve lus (chaîne de traçabilité)"},
    "inputs_note": {
        "en": "Files were opened read-only; the SHA-256 identifies each file as it was read.",
        "fr": "Les fichiers ont été ouverts en lecture seule ; le SHA-256 identifie chaque fichier tel qu'il a été lu.",
    },
    "path": {"en": "Path (as the server saw it)", "fr": "Chemin (vu du serveur)"},
    "size": {"en": "Size (bytes)", "fr": "Taille (octets)"},
    "errors": {"en": "Errors", "fr": "Erreurs"},
    "errors_note": {
        "en": "Inputs that could not be read completely: what they would have shown is unknown.",
        "fr": "Éléments qui n'ont pas pu être lus entièrement : ce qu'ils auraient montré reste inconnu.",
    },
    "where": {"en": "Where", "fr": "Où"},
    "kind": {"en": "Kind", "fr": "Nature"},
    "message": {"en": "Message", "fr": "Message"},
    "plan": {"en": "Remediation plan per server", "fr": "Plan de remédiation par serveur"},
    "plan_install": {"en": "Update to install", "fr": "Mise à jour à installer"},
    "plan_install_one": {
        "en": "One action fixes every CVE listed below: {fix} (or any later build).",
        "fr": "Une seule action corrige toutes les CVE ci-dessous : {fix} (ou toute version ultérieure).",
    },
    "plan_fix_line": {"en": "{cve}: fixed in {fix}", "fr": "{cve} : corrigée par {fix}"},
    "plan_fix_action": {"en": "{cve}: {fix}", "fr": "{cve} : {fix}"},  # the KB names an action ("upgrade to …")
    "plan_fix_unknown": {
        "en": "{cve}: no fixing build known for this version; move to a supported cumulative update.",
        "fr": "{cve} : aucune version corrective connue pour cette version ; passer à une mise à jour cumulative prise en charge.",
    },
    "plan_up_to_date": {"en": "No missing security update was found.", "fr": "Aucune mise à jour de sécurité manquante détectée."},
    "plan_not_scanned": {
        "en": "The build was not checked: run exaudit scan against this server.",
        "fr": "La version n'a pas été vérifiée : lancer exaudit scan sur ce serveur.",
    },
    "plan_mitigations": {
        "en": "Interim mitigations (until the update is installed)",
        "fr": "Mesures provisoires (en attendant la mise à jour)",
    },
    "mit_proxylogon": {
        "en": "ProxyLogon: apply Microsoft's EOMT URL Rewrite rule for CVE-2021-26855; it blocks the SSRF only, not the other three CVEs.",
        "fr": "ProxyLogon : appliquer la règle URL Rewrite de l'outil EOMT de Microsoft contre CVE-2021-26855 ; "
        "elle bloque la SSRF seulement, pas les trois autres CVE.",
    },
    "mit_proxynotshell": {
        "en": "ProxyNotShell: keep the Exchange Emergency Mitigation service (or EOMTv2) rule that blocks autodiscover "
        "requests containing powershell, and disable remote PowerShell for users who are not administrators.",
        "fr": "ProxyNotShell : conserver la règle du service Exchange Emergency Mitigation (ou d'EOMTv2) qui bloque les requêtes "
        "autodiscover contenant powershell, et désactiver PowerShell à distance pour les utilisateurs non administrateurs.",
    },
    "mit_proxyshell": {
        "en": "ProxyShell: Microsoft published no mitigation; only the update protects the server.",
        "fr": "ProxyShell : Microsoft n'a publié aucune mesure provisoire ; seule la mise à jour protège le serveur.",
    },
    "mit_generic": {
        "en": "Restrict access from the internet to OWA, ECP, EWS, autodiscover and PowerShell (VPN or pre-authenticating reverse proxy).",
        "fr": "Restreindre l'accès depuis Internet à OWA, ECP, EWS, autodiscover et PowerShell (VPN ou proxy inverse avec "
        "pré-authentification).",
    },
    "mit_observed": {"en": "Mitigation seen by the scan: {text}", "fr": "Mesure constatée par l'analyse : {text}"},
    "plan_remove": {
        "en": "Files to remove (after a copy for the investigation)",
        "fr": "Fichiers à supprimer (après copie pour l'enquête)",
    },
    "plan_remove_note": {
        "en": "Copy each file and check its SHA-256 before removal; then look for the same name and hash on every other server.",
        "fr": "Copier chaque fichier et vérifier son SHA-256 avant suppression ; puis chercher le même nom et la même "
        "empreinte sur tous les autres serveurs.",
    },
    "plan_credentials": {"en": "Credentials to reset", "fr": "Identifiants à réinitialiser"},
    "cred_theft": {
        "en": "Credential theft is evidenced (LSASS memory dump or credential tool): reset the passwords of every account "
        "that logged on to this server, the service accounts, and the domain administrators; reset the krbtgt account twice.",
        "fr": "Un vol d'identifiants est établi (copie de la mémoire LSASS ou outil de vol d'identifiants) : "
        "réinitialiser les mots de passe "
        "de tous les comptes connectés à ce serveur, des comptes de service et des administrateurs du domaine ; "
        "réinitialiser deux fois le compte krbtgt.",
    },
    "cred_admin": {
        "en": "Administrative accounts or roles were used or created by the attacker: remove what was added and reset the "
        "passwords of the accounts concerned.",
        "fr": "L'attaquant a utilisé ou créé des comptes ou rôles d'administration : supprimer ce qui a été ajouté et "
        "réinitialiser les mots de passe des comptes concernés.",
    },
    "cred_compromised": {
        "en": "Attacker code ran on this server with SYSTEM rights: treat the credentials of accounts that logged on to "
        "it as exposed and reset them.",
        "fr": "Du code de l'attaquant s'est exécuté sur ce serveur avec les droits SYSTEM : considérer comme exposés les identifiants "
        "des comptes qui s'y sont connectés et les réinitialiser.",
    },
    "plan_next": {"en": "What to check next", "fr": "Vérifications suivantes"},
    "next_short_logs": {
        "en": "{artifact} logs cover only {days} days (from {first} UTC): collect older logs or backups; nothing can be "
        "said about earlier dates.",
        "fr": "Les journaux {artifact} ne couvrent que {days} jours (depuis le {first} UTC) : récupérer des journaux plus "
        "anciens ou des sauvegardes ; "
        "rien ne peut être affirmé pour les dates antérieures.",
    },
    "next_gaps": {
        "en": "{artifact} logs have {count} gap(s): find out why (deletion, rotation, stopped service).",
        "fr": "Les journaux {artifact} présentent {count} lacune(s) : en établir la cause (suppression, rotation, service arrêté).",
    },
    "next_no_logs": {
        "en": "No log was analysed: collect the IIS, HttpProxy and ECP logs and run exaudit hunt.",
        "fr": "Aucun journal n'a été analysé : collecter les journaux IIS, HttpProxy et ECP et lancer exaudit hunt.",
    },
    "next_hunt": {
        "en": "This server is exposed: collect its logs and run exaudit hunt to find out whether it was exploited.",
        "fr": "Ce serveur est exposé : collecter ses journaux et lancer exaudit hunt pour savoir s'il a été exploité.",
    },
    "next_hunt_patched": {
        "en": "No update is missing, but a server patched late may have been compromised before: run exaudit hunt on its logs.",
        "fr": "Aucune mise à jour ne manque, mais un serveur corrigé tardivement a pu être compromis avant : "
        "lancer exaudit hunt sur ses journaux.",
    },
    "next_lateral": {
        "en": "Look for what happened next: new accounts and role assignments, scheduled tasks, services, "
        "mailbox export requests (Get-MailboxExportRequest), connections from this server to other machines.",
        "fr": "Rechercher la suite de l'attaque : nouveaux comptes et attributions de rôles, tâches planifiées, services, "
        "demandes d'export de boîtes aux lettres (Get-MailboxExportRequest), connexions de ce serveur vers d'autres machines.",
    },
    "next_other_servers": {
        "en": "Search every other server for the indicators of this report.",
        "fr": "Rechercher les indicateurs de ce rapport sur tous les autres serveurs.",
    },
    "next_attempted": {
        "en": "Only attempts were seen: confirm that the update was installed before the first attempt ({first} UTC).",
        "fr": "Seules des tentatives ont été observées : vérifier que la mise à jour était installée avant la première "
        "tentative ({first} UTC).",
    },
    "next_errors": {
        "en": "{count} input(s) could not be read completely: see the errors section.",
        "fr": "{count} élément(s) n'ont pas pu être lus entièrement : voir la section des erreurs.",
    },
    "nothing_to_do": {"en": "Nothing to do for this server.", "fr": "Rien à faire pour ce serveur."},
    # ------------------------------------------------------------------ sharing (STIX, MISP)
    "share_ip": {"en": "Attacker IP address {value}", "fr": "Adresse IP de l'attaquant {value}"},
    "share_url": {"en": "Malicious request {value}", "fr": "Requête malveillante {value}"},
    "share_file": {"en": "Malicious file {value}", "fr": "Fichier malveillant {value}"},
    "share_seen_in": {"en": "Seen in: {titles}", "fr": "Observé dans : {titles}"},
    "share_event": {
        "en": "Microsoft Exchange compromise: {hosts} server(s), {findings} finding(s), {first} to {last} UTC",
        "fr": "Compromission Microsoft Exchange : {hosts} serveur(s), {findings} constat(s), du {first} au {last} UTC",
    },
    "share_host": {"en": "Exchange server {host}", "fr": "Serveur Exchange {host}"},
    "share_tool": {"en": "exaudit (automated Exchange audit)", "fr": "exaudit (audit automatisé d'Exchange)"},
    # ------------------------------------------------------------------ vocabularies
    "exp_vulnerable": {"en": "vulnerable", "fr": "vulnérable"},
    "exp_possibly_vulnerable": {"en": "possibly vulnerable", "fr": "peut-être vulnérable"},
    "exp_not_vulnerable": {"en": "not vulnerable", "fr": "non vulnérable"},
    "exp_unknown": {"en": "unknown", "fr": "inconnue"},
    "exp_not_scanned": {"en": "not scanned", "fr": "non analysée"},
    "ver_compromised": {"en": "compromised", "fr": "compromis"},
    "ver_exploited": {"en": "exploited", "fr": "exploité"},
    "ver_attempted": {"en": "attempted", "fr": "tentatives"},
    "ver_no_evidence": {"en": "no evidence (see log coverage)", "fr": "aucune trace (voir la couverture des journaux)"},
    "ver_not_hunted": {"en": "logs not analysed", "fr": "journaux non analysés"},
    "sev_critical": {"en": "Critical", "fr": "Critique"},
    "sev_high": {"en": "High", "fr": "Élevée"},
    "sev_medium": {"en": "Medium", "fr": "Moyenne"},
    "sev_low": {"en": "Low", "fr": "Faible"},
    "sev_info": {"en": "Information", "fr": "Information"},
    "stage_attempt": {"en": "attempt", "fr": "tentative"},
    "stage_exploit": {"en": "exploitation", "fr": "exploitation"},
    "stage_persistence": {"en": "persistence", "fr": "persistance"},
    "stage_post": {"en": "post-exploitation", "fr": "post-exploitation"},
    "conf_low": {"en": "low", "fr": "faible"},
    "conf_medium": {"en": "medium", "fr": "moyenne"},
    "conf_high": {"en": "high", "fr": "élevée"},
    "verdict_line": {
        "en": "{host}: exposure {exposure}; compromise {verdict}",
        "fr": "{host} : exposition {exposure} ; compromission {verdict}",
    },
    "build_line": {"en": "build {build}", "fr": "version {build}"},
}


def text(key: str, lang: str, **params: Any) -> str:
    """The sentence ``key`` in ``lang`` with ``params`` filled in (values are inserted as given)."""
    entry = _TEXTS[key]
    template = entry.get(lang) or entry["en"]
    return template.format(**params) if params else template


def has(key: str) -> bool:
    return key in _TEXTS


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGS)}")
    return lang
