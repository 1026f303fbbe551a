"""Site chrome in each outlet language: the text around an article that an extractor must drop.

Menus, consent banners, promo lines, "read also" links, share buttons, comment widgets and
footers are what makes real pages hard; writing them natively per language keeps the demo
honest for the Hindi, Chinese and European pages alike.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chrome:
    """The fixed strings of a site in one language."""

    nav: tuple[str, ...]
    cookie: str
    cookie_accept: str
    promo: str
    read_also: str
    by: str
    share: str
    share_targets: tuple[str, ...]
    comments_count: str
    comment_prompt: str
    comment_extra: tuple[str, ...]
    related: str
    about_author: str
    bio: str
    footer_links: tuple[str, ...]
    rights: str
    months: tuple[str, ...]
    evergreen: tuple[str, ...]
    subscribe: str = ""
    not_found: str = "Not found"


CHROME: dict[str, Chrome] = {
    "en": Chrome(
        nav=("Home", "News", "Electric", "Reviews", "Industry", "Opinion"),
        cookie=(
            "We use cookies to personalise content and ads and to analyse our traffic. "
            "By continuing to browse you agree to our use of cookies."
        ),
        cookie_accept="Accept all",
        promo="Get the morning briefing: sign up for our free newsletter and never miss a launch.",
        read_also="Read also:",
        by="By",
        share="Share this article",
        share_targets=("Facebook", "X", "LinkedIn", "WhatsApp", "Email"),
        comments_count="0 comments",
        comment_prompt="Join the discussion",
        comment_extra=("Sign in to comment", "Newest first"),
        related="More from us",
        about_author="About the author",
        bio="{name} covers the car industry, batteries and the people who build them.",
        footer_links=("About us", "Contact", "Advertise", "Privacy policy", "Terms of use"),
        rights="All rights reserved.",
        months=(
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        evergreen=(
            "How much range do electric cars really lose in winter?",
            "Our guide to home charging: costs, cables and wallboxes",
        ),
        subscribe=(
            "Subscribe to continue reading. This article is reserved for subscribers: "
            "get unlimited access from 1 dollar for the first month."
        ),
        not_found="Page not found",
    ),
    "it": Chrome(
        nav=("Home", "Notizie", "Elettriche", "Prove", "Mercato", "Moto"),
        cookie=(
            "Questo sito utilizza cookie tecnici e di profilazione. Proseguendo la navigazione "
            "acconsenti all'uso dei cookie."
        ),
        cookie_accept="Accetta",
        promo="Offerte auto e sconti: iscriviti al nostro canale WhatsApp e Telegram!",
        read_also="Leggi anche:",
        by="di",
        share="Condividi",
        share_targets=("Facebook", "X", "WhatsApp", "Telegram", "Email"),
        comments_count="0 commenti",
        comment_prompt="Lascia un commento",
        comment_extra=("Iscriviti", "Notifica di"),
        related="Articoli correlati",
        about_author="L'autore",
        bio="{name} scrive di auto, tecnologia e mobilità elettrica da oltre dieci anni.",
        footer_links=("Chi siamo", "Contatti", "Pubblicità", "Privacy", "Cookie policy"),
        rights="Tutti i diritti riservati. P.IVA 01234567890",
        months=(
            "gennaio",
            "febbraio",
            "marzo",
            "aprile",
            "maggio",
            "giugno",
            "luglio",
            "agosto",
            "settembre",
            "ottobre",
            "novembre",
            "dicembre",
        ),
        evergreen=(
            "Auto elettriche: quanto costa davvero la ricarica a casa",
            "Incentivi auto 2024: la guida completa",
        ),
        not_found="Pagina non trovata",
    ),
    "de": Chrome(
        nav=("Startseite", "News", "E-Auto", "Tests", "Wirtschaft", "Ratgeber"),
        cookie=(
            "Wir verwenden Cookies, um Inhalte zu personalisieren und Zugriffe zu analysieren. "
            "Mit der Nutzung der Seite stimmen Sie dem zu."
        ),
        cookie_accept="Alle akzeptieren",
        promo="Jetzt den AutoWelt-Newsletter abonnieren: die wichtigsten Nachrichten jeden Morgen.",
        read_also="Lesen Sie auch:",
        by="Von",
        share="Artikel teilen",
        share_targets=("Facebook", "X", "Xing", "WhatsApp", "E-Mail"),
        comments_count="0 Kommentare",
        comment_prompt="Diskutieren Sie mit",
        comment_extra=("Anmelden", "Neueste zuerst"),
        related="Mehr zum Thema",
        about_author="Über den Autor",
        bio="{name} schreibt über Autoindustrie, Elektromobilität und Zulieferer.",
        footer_links=("Impressum", "Kontakt", "Mediadaten", "Datenschutz", "AGB"),
        rights="Alle Rechte vorbehalten.",
        months=(
            "Januar",
            "Februar",
            "März",
            "April",
            "Mai",
            "Juni",
            "Juli",
            "August",
            "September",
            "Oktober",
            "November",
            "Dezember",
        ),
        evergreen=(
            "Wallbox kaufen: Was Sie vor der Installation wissen müssen",
            "Reichweite im Winter: So viel verlieren E-Autos wirklich",
        ),
        not_found="Seite nicht gefunden",
    ),
    "hi": Chrome(
        nav=("होम", "समाचार", "इलेक्ट्रिक", "रिव्यू", "टेक", "ऑफ़र"),
        cookie="हम आपके अनुभव को बेहतर बनाने के लिए कुकीज़ का उपयोग करते हैं।",
        cookie_accept="स्वीकार करें",
        promo="क्या आप उनमें रुचि रखते हैं? ऑफ़र? हमारे कूपन से बचत करें WHATSAPP o तार!",
        read_also="यह भी पढ़ें:",
        by="लेखक",
        share="शेयर करें",
        share_targets=("Facebook", "X", "WhatsApp", "Telegram"),
        comments_count="0 टिप्पणियाँ",
        comment_prompt="सदस्यता लें",
        comment_extra=("सूचित करना", "अतिथि", "इनलाइन फीडबैक", "सभी टिप्पणियां देखें"),
        related="संबंधित लेख",
        about_author="लेखक के बारे में",
        bio="{name}: कार, प्रौद्योगिकी, फोटोग्राफी और वीडियो निर्माण के शौक़ीन।",
        footer_links=("हमारे बारे में", "संपर्क", "गोपनीयता नीति", "विज्ञापन"),
        rights="सर्वाधिकार सुरक्षित।",
        months=(
            "जनवरी",
            "फ़रवरी",
            "मार्च",
            "अप्रैल",
            "मई",
            "जून",
            "जुलाई",
            "अगस्त",
            "सितंबर",
            "अक्टूबर",
            "नवंबर",
            "दिसंबर",
        ),
        evergreen=(
            "इलेक्ट्रिक कार खरीदने से पहले जानें ये 5 बातें",
            "घर पर ईवी चार्जिंग: खर्च और ज़रूरी सावधानियाँ",
        ),
        not_found="पृष्ठ नहीं मिला",
    ),
    "zh": Chrome(
        nav=("首页", "新闻", "新能源", "评测", "产业", "视频"),
        cookie="本网站使用Cookie以改善您的浏览体验。继续浏览即表示您同意我们使用Cookie。",
        cookie_accept="同意",
        promo="关注汽车日报微信公众号，第一时间获取行业资讯！",
        read_also="另请阅读：",
        by="作者：",
        share="分享到",
        share_targets=("微信", "微博", "QQ空间", "复制链接"),
        comments_count="0 条评论",
        comment_prompt="发表评论",
        comment_extra=("登录后评论", "最新"),
        related="相关阅读",
        about_author="作者简介",
        bio="{name}，汽车日报记者，长期关注新能源汽车与动力电池产业。",
        footer_links=("关于我们", "联系我们", "广告服务", "隐私政策"),
        rights="版权所有，未经授权禁止转载。",
        months=tuple(f"{n}月" for n in range(1, 13)),
        evergreen=("新能源汽车冬季续航实测：掉电多少？", "家用充电桩安装全攻略"),
        not_found="页面不存在",
    ),
    "fr": Chrome(
        nav=("Accueil", "Actualités", "Électrique", "Essais", "Économie", "Occasion"),
        cookie=(
            "Nous utilisons des cookies pour améliorer votre expérience et mesurer l'audience. "
            "En poursuivant votre navigation, vous acceptez leur utilisation."
        ),
        cookie_accept="Tout accepter",
        promo="Recevez l'essentiel de l'auto chaque matin : inscrivez-vous à notre newsletter.",
        read_also="À lire aussi :",
        by="Par",
        share="Partager l'article",
        share_targets=("Facebook", "X", "LinkedIn", "WhatsApp", "E-mail"),
        comments_count="0 commentaire",
        comment_prompt="Réagir à cet article",
        comment_extra=("Se connecter", "Les plus récents"),
        related="Sur le même sujet",
        about_author="L'auteur",
        bio=(
            "{name} est journaliste automobile, spécialiste de l'industrie "
            "et des véhicules électriques."
        ),
        footer_links=("Qui sommes-nous", "Contact", "Publicité", "Mentions légales", "Cookies"),
        rights="Tous droits réservés.",
        months=(
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ),
        evergreen=(
            "Bonus écologique 2024 : ce qui change pour les voitures électriques",
            "Recharge à domicile : combien coûte une borne ?",
        ),
        not_found="Page introuvable",
    ),
    "es": Chrome(
        nav=("Portada", "Noticias", "Eléctricos", "Pruebas", "Industria", "Motos"),
        cookie=(
            "Utilizamos cookies propias y de terceros para mejorar nuestros servicios. "
            "Si continúa navegando, consideramos que acepta su uso."
        ),
        cookie_accept="Aceptar",
        promo="Síguenos en WhatsApp y recibe las mejores ofertas de coches cada semana.",
        read_also="Lee también:",
        by="Por",
        share="Compartir",
        share_targets=("Facebook", "X", "WhatsApp", "Telegram", "Correo"),
        comments_count="0 comentarios",
        comment_prompt="Deja tu comentario",
        comment_extra=("Iniciar sesión", "Más recientes"),
        related="Noticias relacionadas",
        about_author="Sobre el autor",
        bio="{name} escribe sobre coches, industria y movilidad eléctrica.",
        footer_links=("Quiénes somos", "Contacto", "Publicidad", "Aviso legal", "Cookies"),
        rights="Todos los derechos reservados.",
        months=(
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ),
        evergreen=(
            "Etiqueta DGT: qué coches pueden entrar en el centro de las ciudades",
            "Cuánto cuesta cargar un coche eléctrico en casa",
        ),
        not_found="Página no encontrada",
    ),
}


def chrome_for(language: str) -> Chrome:
    """The chrome of a language, English for any language the demo does not write."""
    return CHROME.get(language, CHROME["en"])
