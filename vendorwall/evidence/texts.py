"""The pack's words, in English and French, and the mapping of each measure to the frameworks.

References are to ISO/IEC 27001:2022 Annex A controls, the measures of article 21(2) of the NIS2 directive
(EU 2022/2555), the ANSSI guide PA-022 on secure administration (its section on third parties and remote
maintenance) and the CNIL's recommendations on remote maintenance and on logging. A reference says which
requirement a measure contributes evidence to; it is not a claim of conformity.
"""

from __future__ import annotations

LANGS = ("en", "fr")

ISO = {
    "5.19": ("Information security in supplier relationships",
             "Sécurité de l'information dans les relations avec les fournisseurs"),
    "5.20": ("Addressing information security within supplier agreements",
             "La sécurité de l'information dans les accords conclus avec les fournisseurs"),
    "5.21": ("Managing information security in the ICT supply chain",
             "Management de la sécurité de l'information dans la chaîne d'approvisionnement TIC"),
    "5.22": ("Monitoring, review and change management of supplier services",
             "Surveillance, revue et gestion des changements des services fournisseurs"),
    "8.2": ("Privileged access rights", "Droits d'accès à privilèges"),
    "8.15": ("Logging", "Journalisation"),
    "8.16": ("Monitoring activities", "Activités de surveillance"),
    "8.20": ("Networks security", "Sécurité des réseaux"),
    "8.22": ("Segregation of networks", "Cloisonnement des réseaux"),
}

NIS2 = {
    "b": ("incident handling", "gestion des incidents"),
    "c": ("business continuity and crisis management", "continuité des activités et gestion des crises"),
    "d": ("supply chain security, including relationships with suppliers",
          "sécurité de la chaîne d'approvisionnement, y compris les relations avec les fournisseurs"),
    "e": ("security in network and information systems maintenance",
          "sécurité de la maintenance des réseaux et des systèmes d'information"),
    "f": ("assessing the effectiveness of the measures", "évaluation de l'efficacité des mesures"),
    "i": ("access control policies", "politiques de contrôle d'accès"),
}

ANSSI = {
    "path": ("dedicated, filtered access path for third parties", "chemin d'accès dédié et filtré pour les tiers"),
    "disabled": ("third-party accounts disabled by default, enabled on request",
                 "comptes des tiers désactivés par défaut, activés à la demande"),
    "24h": ("alert or disable when a third-party access is still open after about 24 h",
            "alerte ou désactivation d'un accès tiers encore ouvert après environ 24 h"),
    "individual": ("individual accounts, limited lifetime", "comptes nominatifs, durée de vie limitée"),
    "trace": ("trace accesses and actions", "tracer les accès et les actions"),
}

CNIL = {
    "duration": ("open remote maintenance at the vendor's request, for a duration fixed in advance, then close it",
                 "ouvrir la télémaintenance à la demande du prestataire, pour une durée fixée à l'avance, puis la fermer"),
    "log": ("keep a maintenance log", "tenir un registre des interventions"),
    "retention": ("keep connection logs 6 months to 1 year", "conserver les journaux de connexion de 6 mois à 1 an"),
}

# measure -> (ISO controls, NIS2 21(2) letters, ANSSI PA-022 points, CNIL points)
MAPPING: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "segmentation": (("8.22", "8.20", "5.19"), ("d", "e"), ("path",), ()),
    "least_privilege": (("8.2", "5.19"), ("i",), ("path",), ()),
    "on_demand": (("5.19", "5.20", "8.2"), ("d", "i"), ("disabled",), ("duration",)),
    "break_glass": (("8.2", "5.22"), ("b", "i"), ("24h",), ("log",)),
    "accounts": (("8.2", "5.19"), ("i",), ("individual",), ()),
    "reviews": (("5.22",), ("f",), ("trace",), ("log",)),
    "logs": (("8.15", "8.16"), ("b", "f"), ("trace",), ("retention", "log")),
    "drills": (("5.21", "5.22", "8.16"), ("b", "c", "d"), (), ()),
}

T: dict[str, tuple[str, str]] = {
    "title": ("Vendor remote-maintenance: compliance evidence", "Télémaintenance des prestataires : preuves de conformité"),
    "subtitle": ("Period {period} ({start} to {end}), inventory {inventory}, figures as of {now}",
                 "Période {period} (du {start} au {end}), inventaire {inventory}, chiffres au {now}"),
    "disclaimer": ("Built by vendorwall from the inventory, the hash-chained journals and the connection-log archive. "
                   "Each figure can be recomputed from the raw files beside this page. A reference to a framework "
                   "says which requirement a measure gives evidence for; it is not a certification.",
                   "Établi par vendorwall à partir de l'inventaire, des journaux chaînés par empreintes et de "
                   "l'archive des journaux de connexion. Chaque chiffre se recalcule à partir des fichiers bruts "
                   "joints. Une référence à un référentiel indique l'exigence dont la mesure apporte la preuve ; "
                   "ce n'est pas une certification."),
    "summary": ("Summary", "Synthèse"),
    "measure": ("Measure", "Mesure"),
    "status": ("Status", "Statut"),
    "ok": ("in place", "en place"),
    "gap": ("gaps", "écarts"),
    "gaps": ("Gaps", "Écarts"),
    "no_gap": ("No gap found.", "Aucun écart constaté."),
    "evidence": ("Evidence", "Preuves"),
    "references": ("References", "Références"),
    "journals": ("Journals (tamper-evident)", "Journaux (inaltérables)"),
    "journal": ("Journal", "Journal"),
    "entries": ("Entries", "Entrées"),
    "in_period": ("In the period", "Dans la période"),
    "head": ("Last entry's hash", "Empreinte de la dernière entrée"),
    "intact": ("Chain", "Chaîne"),
    "intact_yes": ("intact", "intègre"),
    "intact_no": ("BROKEN", "ROMPUE"),
    "authenticated": ("Authenticated (HMAC)", "Authentifié (HMAC)"),
    "by_hand": ("What the auditor still asks for by hand", "Ce que l'auditeur demande encore à la main"),
    "raw": ("Raw data", "Données brutes"),
    "alerts": ("Alerts sent in the period: {sent} ({failed} failed deliveries)",
               "Alertes envoyées dans la période : {sent} ({failed} envois en échec)"),
    "m.segmentation": ("Segmentation per vendor", "Cloisonnement par prestataire"),
    "m.least_privilege": ("Least privilege", "Moindre privilège"),
    "m.on_demand": ("Access on demand", "Accès à la demande"),
    "m.break_glass": ("Break-glass (emergency access)", "Accès d'urgence (bris de glace)"),
    "m.accounts": ("Vendor accounts: lifetime and idle lock", "Comptes des prestataires : durée de vie et verrouillage"),
    "m.reviews": ("Reviews and samples", "Revues et échantillonnages"),
    "m.logs": ("Connection logs retained", "Conservation des journaux de connexion"),
    "m.drills": ("Isolation of a vendor (drills and incidents)", "Isolement d'un prestataire (exercices et incidents)"),
    "d.segmentation": ("Each vendor reaches its systems through dedicated VLANs and subnets; firewalls deny by "
                       "default and log what they drop.",
                       "Chaque prestataire atteint ses systèmes par des VLAN et sous-réseaux dédiés ; les pare-feu "
                       "refusent par défaut et journalisent ce qu'ils rejettent."),
    "d.least_privilege": ("A vendor reaches only the services its systems declare; forbidden services only with a "
                          "justified exception.",
                          "Un prestataire n'atteint que les services déclarés de ses systèmes ; les services interdits "
                          "seulement par exception justifiée."),
    "d.on_demand": ("Accesses open at the vendor's request, with a ticket, a requester and an approver, for a "
                    "duration the firewall itself enforces.",
                    "Les accès s'ouvrent à la demande du prestataire, avec un ticket, un demandeur et un approbateur, "
                    "pour une durée que le pare-feu applique lui-même."),
    "d.break_glass": ("Emergency openings without approval, reviewed within 24 hours.",
                      "Ouvertures d'urgence sans approbation, revues sous 24 heures."),
    "d.accounts": ("Individual vendor accounts with a limited lifetime; accounts idle too long are locked.",
                   "Comptes nominatifs à durée de vie limitée ; les comptes inactifs trop longtemps sont verrouillés."),
    "d.reviews": ("Account reviews and random samples of connections reconciled with the access journal.",
                  "Revues des comptes et échantillons aléatoires de connexions rapprochés du journal des accès."),
    "d.logs": ("Every vendor connection is recorded on the firewall, collected into a hash-chained archive, kept "
               "for the retention period and then purged, the purge journaled.",
               "Chaque connexion d'un prestataire est enregistrée sur le pare-feu, collectée dans une archive chaînée "
               "par empreintes, conservée pendant la durée fixée puis purgée, la purge étant journalisée."),
    "d.drills": ("A vendor can be cut everywhere in seconds, live sessions included; runs are journaled.",
                 "Un prestataire peut être coupé partout en quelques secondes, sessions en cours comprises ; chaque "
                 "exécution est journalisée."),
    # figures
    "f.vendors": ("vendors", "prestataires"), "f.systems": ("systems", "systèmes"),
    "f.segments": ("segments (VLAN + subnet)", "segments (VLAN + sous-réseau)"),
    "f.segments_dedicated": ("dedicated to one system", "dédiés à un système"),
    "f.segments_shared": ("shared by a vendor's systems", "partagés par les systèmes d'un prestataire"),
    "f.firewalls": ("firewalls enforcing", "pare-feu appliquant la politique"),
    "f.vendor_rules": ("vendor access rules", "règles d'accès des prestataires"),
    "f.drops_logged": ("vendor packets dropped and logged in the period", "paquets de prestataires rejetés et journalisés dans la période"),
    "f.lan_to_lan": ("LAN-to-LAN tunnels", "tunnels LAN-à-LAN"),
    "f.lan_to_lan_overdue": ("tunnels past their retirement date", "tunnels au-delà de leur date de retrait"),
    "f.allowed_tuples": ("allowed (source, destination, port) tuples", "triplets (source, destination, port) autorisés"),
    "f.systems_reachable": ("systems a vendor can reach", "systèmes atteignables par un prestataire"),
    "f.services_per_system_median": ("services per system (median)", "services par système (médiane)"),
    "f.services_per_system_max": ("services per system (max)", "services par système (max)"),
    "f.forbidden_service_exceptions": ("exceptions for forbidden services", "exceptions pour services interdits"),
    "f.systems_on_demand": ("systems on demand", "systèmes à la demande"),
    "f.systems_scheduled": ("systems on a schedule", "systèmes sur créneau"),
    "f.systems_permanent": ("systems with a permanent access", "systèmes en accès permanent"),
    "f.grants_opened": ("accesses opened in the period", "accès ouverts dans la période"),
    "f.grants_refused": ("requests refused", "demandes refusées"),
    "f.grants_closed_early": ("closed before expiry", "fermés avant échéance"),
    "f.grants_expired": ("expired on the firewall", "expirés sur le pare-feu"),
    "f.grants_without_ticket_or_approver": ("without ticket or approver", "sans ticket ni approbateur"),
    "f.granted_hours_median": ("granted duration, hours (median)", "durée accordée, heures (médiane)"),
    "f.granted_hours_max": ("granted duration, hours (max)", "durée accordée, heures (max)"),
    "f.vendors_with_grants": ("vendors who used on-demand access", "prestataires ayant utilisé l'accès à la demande"),
    "f.break_glass_opened": ("break-glass openings", "ouvertures en bris de glace"),
    "f.reviewed_on_time": ("reviewed within 24 h", "revues sous 24 h"),
    "f.reviewed_late": ("reviewed late", "revues en retard"),
    "f.not_reviewed_overdue": ("not reviewed, overdue", "non revues, en retard"),
    "f.review_pending": ("review still due", "revue encore à faire"),
    "f.review_hours": ("review deadline, hours", "délai de revue, heures"),
    "f.accounts": ("vendor accounts", "comptes de prestataires"),
    "f.individual": ("individual (not shared)", "nominatifs (non partagés)"),
    "f.max_lifetime_days_policy": ("longest lifetime allowed, days", "durée de vie maximale autorisée, jours"),
    "f.longest_lifetime_days": ("longest lifetime found, days", "plus longue durée de vie constatée, jours"),
    "f.over_lifetime": ("accounts over the lifetime", "comptes au-delà de la durée de vie"),
    "f.idle_lock_days_policy": ("idle lock after, days", "verrouillage après inactivité, jours"),
    "f.idle_locks_in_period": ("accounts locked for inactivity in the period", "comptes verrouillés pour inactivité dans la période"),
    "f.expiring_within_30_days": ("accounts expiring within 30 days", "comptes expirant sous 30 jours"),
    "f.account_reviews": ("account reviews in the period", "revues des comptes dans la période"),
    "f.last_account_review": ("last account review", "dernière revue des comptes"),
    "f.audit_samples": ("audit samples", "échantillons d'audit"),
    "f.sampled_connections": ("connections sampled", "connexions échantillonnées"),
    "f.unexplained_in_samples": ("unexplained connections in samples", "connexions inexpliquées dans les échantillons"),
    "f.break_glass_reviews": ("break-glass reviews recorded", "revues de bris de glace enregistrées"),
    "f.retention_days": ("retention, days (policy)", "conservation, jours (politique)"),
    "f.segments_in_period": ("archive segments collected in the period", "segments d'archive collectés dans la période"),
    "f.records_in_period": ("records in the period", "enregistrements dans la période"),
    "f.connections": ("vendor connections", "connexions de prestataires"),
    "f.closed_with_bytes": ("closed, with bytes and duration", "terminées, avec octets et durée"),
    "f.drops": ("dropped vendor packets", "paquets de prestataires rejetés"),
    "f.bytes": ("bytes exchanged", "octets échangés"),
    "f.within_a_grant": ("connections within an approved grant", "connexions dans un accès approuvé"),
    "f.purges": ("retention purges (all time)", "purges de conservation (depuis l'origine)"),
    "f.purges_in_period": ("purges in the period", "purges dans la période"),
    "f.segments_purged": ("segments purged", "segments purgés"),
    "f.archive_intact": ("archive intact", "archive intègre"),
    "f.index_head": ("archive index head hash", "empreinte de tête de l'index"),
    "f.forwarded_to": ("also forwarded to syslog", "également transmis au syslog"),
    "f.segments_total": ("archive segments", "segments d'archive"),
    "f.isolations": ("isolations run", "isolements exécutés"),
    "f.restores": ("restores run", "rétablissements exécutés"),
    "f.dry_runs": ("dry runs (--check)", "simulations (--check)"),
    "f.seconds_median": ("seconds until every firewall was done (median)", "secondes jusqu'au dernier pare-feu (médiane)"),
    "f.seconds_max": ("seconds until every firewall was done (max)", "secondes jusqu'au dernier pare-feu (max)"),
    "f.last": ("last run", "dernière exécution"),
    # gaps
    "g.lan_to_lan": ("LAN-to-LAN tunnel still open: {vendor}/{entry_path} (retire by {retire_by})",
                     "Tunnel LAN-à-LAN encore ouvert : {vendor}/{entry_path} (retrait prévu le {retire_by})"),
    "g.forbidden_service": ("Forbidden service allowed by exception: {vendor} -> {system} ({service})",
                            "Service interdit autorisé par exception : {vendor} -> {system} ({service})"),
    "g.permanent_access": ("Permanent access: {vendor} -> {system} (until {until})",
                           "Accès permanent : {vendor} -> {system} (jusqu'au {until})"),
    "g.break_glass_not_reviewed": ("Break-glass {grant} ({vendor} -> {system}) not reviewed (due {review_by})",
                                   "Bris de glace {grant} ({vendor} -> {system}) non revu (échéance {review_by})"),
    "g.break_glass_reviewed_late": ("Break-glass {grant} ({vendor} -> {system}) reviewed late ({reviewed_at})",
                                    "Bris de glace {grant} ({vendor} -> {system}) revu en retard ({reviewed_at})"),
    "g.account_over_lifetime": ("Account {account} ({vendor}) lives {lifetime_days} days (max {max_days})",
                                "Le compte {account} ({vendor}) vit {lifetime_days} jours (max {max_days})"),
    "g.shared_account": ("Shared account {account} ({vendor})", "Compte partagé {account} ({vendor})"),
    "g.account_without_owner": ("Account {account} ({vendor}) has no owner", "Le compte {account} ({vendor}) n'a pas de responsable"),
    "g.no_account_review": ("No account review in the period", "Aucune revue des comptes dans la période"),
    "g.no_audit_sample": ("No audit sample of connections", "Aucun échantillon d'audit des connexions"),
    "g.retention_outside_cnil": ("Log retention {days} days: outside the CNIL's 6 months to 1 year",
                                 "Conservation des journaux de {days} jours : hors de la fourchette CNIL de 6 mois à 1 an"),
    "g.no_collection_in_period": ("No connection log collected in the period",
                                  "Aucun journal de connexion collecté dans la période"),
    "g.archive_not_intact": ("The connection-log archive is not intact: {problems}",
                             "L'archive des journaux de connexion n'est pas intègre : {problems}"),
    "g.unexplained_connections": ("{count} vendor connections outside any grant or declared access",
                                  "{count} connexions de prestataires hors de tout accès approuvé ou déclaré"),
    "g.inventory_out_of_policy": ("Inventory out of policy on {date}: {path}: {message} ({found}; {where})",
                                  "Inventaire hors politique le {date} : {path} : {message} ({found} ; {where})"),
    "g.no_isolation_drill": ("No isolation run (drill or incident) in the period",
                             "Aucun isolement exécuté (exercice ou incident) dans la période"),
    "g.isolation_incomplete": ("Isolation of {vendors} on {when}: {failed} firewalls not done",
                               "Isolement de {vendors} le {when} : {failed} pare-feu non traités"),
    # tables
    "t.grants": ("Accesses opened in the period", "Accès ouverts dans la période"),
    "t.isolations": ("Isolation runs in the period", "Isolements dans la période"),
    "t.traffic": ("Vendor traffic in the period", "Trafic des prestataires dans la période"),
    "c.vendor": ("Vendor", "Prestataire"), "c.system": ("System", "Système"), "c.ticket": ("Ticket", "Ticket"),
    "c.opened": ("Opened", "Ouvert"), "c.hours": ("Hours", "Heures"), "c.ended": ("Ended", "Fin"),
    "c.kind": ("Kind", "Type"), "c.approver": ("Approver", "Approbateur"), "c.grant": ("Grant", "Accès"),
    "c.when": ("When", "Date"), "c.action": ("Action", "Action"), "c.firewalls": ("Firewalls", "Pare-feu"),
    "c.failed": ("Failed", "Échecs"), "c.seconds": ("Seconds", "Secondes"), "c.connections": ("Connections", "Connexions"),
    "c.closed": ("Closed", "Terminées"), "c.bytes": ("Bytes", "Octets"), "c.drops": ("Drops", "Rejets"),
    "c.systems": ("Systems", "Systèmes"),
    "emergency": ("break-glass", "bris de glace"), "normal": ("approved", "approuvé"),
    "yes": ("yes", "oui"), "no": ("no", "non"), "none": ("none", "aucun"),
    "controller only": ("controller only", "contrôleur seulement"),
    "page": ("Page", "Page"),
}

BY_HAND: tuple[tuple[str, str], ...] = (
    ("The contracts and their security clauses (ISO/IEC 27001 A.5.20): vendorwall knows only the reference and end date.",
     "Les contrats et leurs clauses de sécurité (ISO/IEC 27001 A.5.20) : vendorwall n'en connaît que la référence et la date de fin."),
    ("What vendors did inside a session (commands, screens): bastion session recordings, not the firewall's logs.",
     "Ce que les prestataires ont fait pendant une session (commandes, écrans) : enregistrements du bastion, pas les journaux du pare-feu."),
    ("The request and approval themselves in the ticketing system: the journal keeps their references.",
     "La demande et l'approbation elles-mêmes dans l'outil de tickets : le journal en garde les références."),
    ("Connection logs of firewalls other than nftables (FortiOS, switches...): on the syslog server they forward to.",
     "Les journaux des pare-feu autres que nftables (FortiOS, commutateurs...) : sur le serveur syslog vers lequel ils transmettent."),
    ("VPN concentrator accounts of VPN-only vendors and their logs.",
     "Les comptes et journaux du concentrateur VPN des prestataires accédant seulement par VPN."),
    ("That the inventory is complete: accesses never declared to vendorwall are invisible to it.",
     "L'exhaustivité de l'inventaire : un accès jamais déclaré à vendorwall lui est invisible."),
    ("The vendors' own security (certifications, incident notifications, staff vetting) and staff training.",
     "La sécurité propre des prestataires (certifications, notification d'incidents, habilitation du personnel) et la formation."),
)


def t(key: str, lang: str, **kw: object) -> str:
    en, fr = T[key]
    text = fr if lang == "fr" else en
    return text.format(**kw) if kw else text
