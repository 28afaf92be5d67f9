/*
    exaudit — Exchange-specific web shell carriers.

    * OAB virtual directory dump saved as .aspx (CVE-2021-27065): the text of an OAB VD configuration with a
      script in ExternalUrl or InternalUrl (CISA MAR-10328929, AR21-084A).
    * ProxyShell mailbox export: a PST (magic "!BDN") saved as .aspx with script inside (CVE-2021-34473 chain).
    * Certificate-request export: a DER blob (0x30 0x82) saved as .aspx with script inside.
    The PST/DER checks are repeated in Python (exaudit.detect.webshell_exchange) so that they hold for files
    scanned in chunks.
*/

rule exaudit_exchange_oab_vd_script
{
    meta:
        title = "OAB virtual directory dump with script in ExternalUrl/InternalUrl (CVE-2021-27065)"
        severity = "critical"
        category = "exchange"
        family = "china_chopper"
        cves = "CVE-2021-26858,CVE-2021-27065"
        reference = "https://www.cisa.gov/news-events/analysis-reports/ar21-084a"
    strings:
        $url = /(External|Internal)Url\W{0,40}http[^<\n]{0,80}<script/ nocase wide ascii
        $oab1 = "OfflineAddressBook" nocase wide ascii
        $oab2 = "InternalAuthenticationMethods" nocase wide ascii
        $oab3 = "ExtendedProtectionTokenChecking" nocase wide ascii
        $oab4 = "PollInterval" nocase wide ascii
        $script1 = /<script[^>]{0,80}runat/ nocase wide ascii
        $script2 = /Page\s+Language/ nocase wide ascii
        $ext = /(External|Internal)Url/ nocase wide ascii
    condition:
        $url or ($ext and 2 of ($oab*) and any of ($script*))
}

rule exaudit_exchange_pst_wrapped_page
{
    meta:
        title = "Outlook PST file carrying server script (ProxyShell mailbox-export web shell)"
        severity = "critical"
        category = "exchange"
        cves = "CVE-2021-34473,CVE-2021-34523,CVE-2021-31207"
        reference = "https://www.huntress.com/blog/rapid-response-microsoft-exchange-servers-still-vulnerable-to-proxyshell-exploit"
    strings:
        $s1 = /Page\s+Language\s*=/ nocase
        $s2 = /<script[^>]{0,80}runat\s*=\s*.?server/ nocase
        $s3 = /<%/
    condition:
        uint32(0) == 0x4e444221 and any of them
}

rule exaudit_exchange_der_wrapped_page
{
    meta:
        title = "DER certificate request carrying server script (New-ExchangeCertificate web shell)"
        severity = "critical"
        category = "exchange"
        cves = "CVE-2021-34473,CVE-2021-34523,CVE-2021-31207"
        reference = "https://www.huntress.com/blog/rapid-response-microsoft-exchange-servers-still-vulnerable-to-proxyshell-exploit"
    strings:
        $s1 = /Page\s+Language\s*=/ nocase
        $s2 = /<script[^>]{0,80}runat\s*=\s*.?server/ nocase
    condition:
        uint16(0) == 0x8230 and any of them
}

rule exaudit_marker_server_script
{
    meta:
        title = "Contains ASP/ASP.NET server script"
        severity = "info"
        category = "marker"
    strings:
        $s1 = /Page\s+Language\s*=/ nocase
        $s2 = /<script[^>]{0,80}runat\s*=\s*.?server/ nocase
        $s3 = /<%@\s*(Page|WebHandler|WebService|Import|Assembly)/ nocase
    condition:
        any of them
}
