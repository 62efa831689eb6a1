"""What delivery reports and automatic replies say, in the languages mail servers and clients use.

Compiled patterns over decoded text (see headers.header_texts), matched case-insensitively.
The subjects are those real servers put on their reports: Postfix ("Undelivered Mail Returned
to Sender"), Exim ("Mail delivery failed: returning message to sender"), Sendmail ("Returned
mail: see transcript for details"), qmail ("failure notice"), Exchange and Office 365
("Undeliverable:", localised: "Unzustellbar:", "Non remis :", "No se puede entregar:"...), Gmail
("Delivery Status Notification (Failure)", localised), Yahoo ("Failure Notice"), Lotus Domino
("DELIVERY FAILURE:", "DELIVERY REPORT"), GroupWise ("Undeliverable", "Message status -
undeliverable"), MDaemon ("Permanent Delivery Failure", "Warning: message ... delayed"),
antivirus and content gateways ("VIRUS (...) IN MAIL FROM YOU", "BANNED CONTENTS ALERT",
"Message blocked"), and the Chinese, Japanese and Russian servers' own.
"""

import re

# Subjects of delivery failure and delay reports. Checked only on mail from a daemon, or together
# with other evidence (an attached original, a status code), never alone.
_BOUNCE_SUBJECTS = [
    # English
    r"undeliver(able|ed)",
    r"non[- ]?deliver(y|able|ed)",
    r"not delivered",
    r"delivery (status notification|failure|failed|has failed|report|notification|problem|error|incomplete)",
    r"delivery to the following recipients? (failed|has been delayed)",
    r"(mail|message) delivery (failed|failure|problem|error|report|notification)",
    r"(mail|message)( delivery)? (failure|failed)",
    r"returning (the )?(message |mail )?to (the )?sender",
    r"(mail|message) delivery warning|delivery warning",
    r"failed (mail|delivery|message)",
    r"failure (notice|notification|delivery)",
    r"permanent (delivery )?(failure|error)",
    r"returned (mail|message|to sender)",
    r"mail returned",
    r"(could|can)(n'?t| ?not) (be )?deliver",
    r"unable to deliver",
    r"error sending (your )?(mail|message|e-?mail)",
    r"there was an error sending",
    r"mail system error",
    r"bounce(d)? (notification|message|notice|mail)",
    r"^warning:.*(user unknown|could not|delay|undeliver|not (yet )?been delivered)",
    r"user unknown",
    r"(recipient|address) (unknown|rejected|not found)",
    r"mailbox (full|unavailable|not found)",
    r"message (blocked|rejected|not sent|status - undeliverable)",
    r"virus .*in mail from you|banned contents alert|unchecked contents in mail|spam .*in mail from you",
    r"\bdsn\b|\bndn\b|\bndr\b",
    r"(delayed|delay) (mail|message|delivery)|delivery (delayed|delay)|message delayed",
    r"message you sent (was |has been )?(blocked|rejected)",
    r"your (message|e-?mail) (was|has been|could not be) (blocked|rejected|returned|not delivered"
    r"|quarantined)",
    # French
    r"non remis",
    r"non distribu(é|e|able)",
    r"non d[ée]livr[ée]",
    r"[ée]chec (de la |de |d'|du )?(la )?(remise|distribution|livraison|d[ée]livrance|l'envoi|envoi)",
    r"notification d'[ée]tat de (la )?distribution",
    r"(avis|rapport) de non[- ]remise",
    r"courrier (retourn[ée]|non (d[ée]livr|distribu|remis))",
    r"message (retourn[ée]|non (d[ée]livr|distribu|remis))",
    r"impossible de (remettre|distribuer|d[ée]livrer)",
    # German
    r"unzustellbar",
    r"nicht zustellbar",
    r"zustellung (fehlgeschlagen|gescheitert|nicht m[öo]glich|verz[öo]gert)",
    r"benachrichtigung [üu]ber den zustellstatus",
    r"(zustell|übermittlungs|uebermittlungs)(status)?benachrichtigung",
    r"fehler bei der (zustellung|[üu]bermittlung)",
    r"(unzustellbare|nicht zugestellte) (nachricht|e-?mail)",
    r"konnte nicht zugestellt werden",
    r"unzustellbar(e|er)? ",
    r"r[üu]ckl[äa]ufer",
    r"verz[öo]gerte zustellung",
    # Spanish
    r"no se (puede|pudo) entregar",
    r"no (se ha podido|pudo ser) entregad",
    r"(mensaje|correo) (no entregad|devuelt)",
    r"notificaci[óo]n de estado de (la )?entrega",
    r"(error|fallo) (de|en la) entrega",
    r"entrega (fallida|retrasada|demorada)",
    r"imposible entregar",
    r"no entregad[oa]",
    # Italian
    r"non recapitabile",
    r"impossibile recapitare",
    r"mancato recapito",
    r"(messaggio|posta) non (consegnat|recapitat)",
    r"notifica (sullo |dello )?stato (di |della )?consegna",
    r"consegna (non riuscita|fallita|ritardata)",
    r"errore (di|nella) consegna",
    r"non consegnat[oa]",
    # Portuguese
    r"n[ãa]o [ée] poss[íi]vel entregar",
    r"n[ãa]o (foi )?entregue",
    r"mensagem (n[ãa]o entregue|devolvida)",
    r"notifica[çc][ãa]o de (status|estado) de entrega",
    r"falha (na|de) entrega",
    r"entrega (falhou|atrasada)",
    r"devolvid[oa] ao remetente",
    r"imposs[íi]vel entregar",
    # Dutch
    r"onbestelbaar",
    r"kan niet worden (bezorgd|afgeleverd)",
    r"niet (bezorgd|afgeleverd)",
    r"(bezorgings|afleverings)(status)?(melding|rapport|bericht)",
    r"bezorging (mislukt|vertraagd)",
    r"retour afzender",
    r"onbestelbare",
    # Polish
    r"niedostarcz",
    r"nie mo[żz]na dostarczy[ćc]",
    r"nie (zosta[łl]a|zosta[łl]o|mog[łl]a by[ćc]) dostarczon",
    r"powiadomienie o stanie dostarczenia",
    r"b[łl][ąa]d dostarczenia",
    r"zwrot (poczty|wiadomo[śs]ci)",
    r"op[óo][źz]nienie (dostarczenia|dor[ęe]czenia)",
    # Scandinavian, Czech, Turkish, Hungarian, Latvian
    r"olevererbar|kunde inte levereras|ikke lever(et|bar)|kan ikke leveres|uanbringelig",
    # Exchange's "Undeliverable:" in more of the languages it writes it in
    r"ei voi toimittaa|toimitus ep[äa]onnistui|teslim edilemeyen|nelivrabil|nu a putut fi livrat",
    r"neisporu[čc]iv|ni mogo[čc]e dostaviti|nepristatyt|k[äa]ttetoimetamatu|no es pot lliurar",
    r"tidak dapat dikirim|kh[ôo]ng (g[ửu]i|th[ểe] g[ửu]i) [đd][ưu][ợo]c",
    r"δεν είναι δυνατή η παράδοση|μη παράδοση",
    r"לא ניתן למסירה|تعذر التسليم|ไม่สามารถส่ง|배달 못 함",
    r"nedoru[čc]iteln|nedoru[čc]en",
    r"teslim edilemedi|iletilemedi",
    r"k[ée]zbes[íi]thetetlen",
    r"nepieg[āa]d[āa]ts|nevar pieg[āa]d[āa]t",
    # Russian
    r"недостав",
    r"не доставлен",
    r"не (удалось|может быть|могло быть) доставить|невозможно доставить|не может быть доставлено",
    r"ошибка (доставки|отправки)",
    r"уведомление о (доставке|состоянии доставки)",
    r"возврат (письма|почты|сообщения)",
    r"возвращ[её]нное (письмо|сообщение)",
    r"задержка доставки",
    # Japanese
    r"配信(不能|エラー|失敗|できません|状態通知|の状態|不可|遅延)",
    r"配送(エラー|失敗|不能)",
    r"送信(エラー|失敗|できません)",
    r"宛先不明",
    r"届きませんでした|返送",
    r"メール(配信|送信)(エラー|失敗)",
    # Chinese (simplified and traditional)
    r"退信|退回|无法投递|無法投遞|投递失败|投遞失敗|未送达|未送達|发送失败|發送失敗|传输失败|傳輸失敗",
    r"无法传递|無法傳遞|传递失败|傳遞失敗|递送(状态|失败)|遞送(狀態|失敗)",
    r"邮件(被)?退回|郵件(被)?退回|系统退信|系統退信|延迟(投递|发送)|延遲(投遞|傳送)",
    # Korean
    r"반송|배달 실패|전송 실패",
]
BOUNCE_SUBJECT = re.compile("|".join(f"(?:{p})" for p in _BOUNCE_SUBJECTS), re.I)

# A report about a delay (the server is still trying), not a failure.
DELAY_SUBJECT = re.compile(
    r"\bdelay|still being retried|warning: could not send|will (be )?retr|not yet (been )?delivered"
    r"|delivery warning"
    r"|\(delay\)|verz[öo]ger|retard|retras|demora|ritard|atrasad|vertraagd|op[óo][źz]nien|задержк"
    r"|遅延|延迟|延遲",
    re.I,
)
DELAY_TEXT = re.compile(
    r"will (be )?retr(y|ied)|still being retried|warning only|do not need to resend|don't need to resend"
    r"|has been delayed|delivery attempts will continue|not yet been delivered|will keep trying"
    r"|will continue to try|has been postponed|advisory[- ]only"
    r"|is delayed|temporarily deferred|has not been delivered yet|not been delivered yet"
    r"|wird weiter versucht|weitere zustellversuche|nouvel essai|nouvelle tentative"
    r"|se (volver[áa]|seguir[áa]) (a )?intentar",
    re.I,
)

# Sentences a notice uses to say a delivery failed (the body, not the subject).
_FAILURE_PHRASES = [
    r"(could|can)(n'?t| ?not) (be )?deliver(ed)?",
    r"did not reach (the following|some or all|its|the intended)",
    r"(was|were|has|have|has been|have been) not (been )?delivered",
    r"(delivery|deliveries) (to the following .{0,40})?(has |have )?(failed|was unsuccessful)",
    r"undeliverable|undelivered",
    r"unable to deliver",
    r"failed permanently|permanent(ly)? (error|failure|fatal)|fatal error",
    r"delivery (status notification|failure|problem|has failed|incomplete)",
    r"(user|recipient|mailbox|address) (unknown|not found|unavailable|does not exist|doesn't exist"
    r"|rejected|disabled|is full|full)",
    r"unknown (user|recipient|mailbox|address)",
    r"(is )?not a valid (user|recipient|mailbox|address)|invalid (user|recipient|mailbox)( address)?",
    r"no such (user|mailbox|recipient|address|domain)",
    r"(host|domain)( name)? not found|no mx (record|or a)|dns error",
    r"(over|exceeded|exceeds) (the )?(storage |mailbox |disk )?quota|quota exceeded|mailbox (is )?full",
    r"i'?m sorry to have to inform you|i'?m afraid i (wasn'?t|was not) able to deliver",
    r"this is the (qmail-send|mail system|postfix) program|mail delivery software",
    r"(message|mail|e-?mail) (was |has been )?(rejected|blocked|refused|returned|bounced)",
    r"failed (addresses|recipients)|no valid recipients|unknown host",
    r"(delivery|message) (has been |was )?(postponed|deferred)|has been postponed",
    r"retry (timeout|time) (exceeded|not reached)|giving up|gave up",
    r"not listed in (the )?(domino directory|public name|address book)",
    r"delivery (has been )?delayed|not yet been delivered|will (be )?retr(y|ied)",
    r"virus (found|detected)|contains a virus|infected",
    # Other languages: the subjects' own words serve in the body too.
    r"konnte nicht zugestellt|nicht zugestellt werden|unzustellbar",
    r"n'a pas pu [êe]tre (remis|distribu|d[ée]livr|achemin)|n'a pas [ée]t[ée] (remis|distribu|d[ée]livr)",
    r"non remis",
    r"no se (ha podido|pudo|puede) entregar|no pudo ser entregado",
    r"non [èe] stato possibile (recapitare|consegnare)|impossibile recapitare",
    r"n[ãa]o (foi poss[íi]vel entregar|p[ôo]de ser entregue)",
    r"kon niet worden (bezorgd|afgeleverd)",
    r"nie (mo[żz]e zosta[ćc]|zosta[łl]a|zosta[łl]o|mo[żz]na) dostarcz",
    r"не (может быть|удалось|было) достав|недостав",
    r"配信(でき|不能|エラー)|届きませんでした|送信できませんでした",
    r"无法投递|投递失败|退信|無法傳遞|傳遞失敗|未送达|传输失败|傳輸失敗",
]
FAILURE_TEXT = re.compile("|".join(f"(?:{p})" for p in _FAILURE_PHRASES), re.I)

# What a challenge-response system asks of a sender: to confirm (or be approved) before its mail
# is delivered (Boxbe, SpamArrest, Mailblocks, TMDA, a server's "confirm this mail server").
CHALLENGE_TEXT = re.compile(
    r"(before|until) (your|the) (message|e-?mail) (is|will be|can be) delivered|approved senders?|white-?list"
    r"|(confirm|verify) (that )?you are (a )?(human|person|real)|one-time verification|sender verification"
    r"|not pre-?approved|guest list|waitlisted|requires confirmation|confirm this (mail )?server",
    re.I,
)
