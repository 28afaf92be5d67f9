/*
    exaudit — web shell families seen on Exchange and IIS servers.

    Written by the exaudit project from the public descriptions of each family (no third-party rule text).
    Every rule carries meta used by exaudit.detect.webshell_rules:
      severity  critical | high | medium | low   (critical/high = known web shell, medium/low = suspicious)
      category  family | behaviour | capability | exchange
      title     one line for the report
    References: CISA AA21-062A and MAR-10328929 (China Chopper on Exchange), Volexity "Operation Exchange
    Marauder" (reGeorg, 2021-03-02), Microsoft MSTIC HAFNIUM blog (2021-03-02), ATT&CK T1505.003.
*/

rule exaudit_china_chopper_jscript_eval
{
    meta:
        title = "China Chopper / Antsword one-line eval of request data"
        severity = "critical"
        category = "family"
        family = "china_chopper"
        reference = "https://www.cisa.gov/news-events/analysis-reports/ar21-072a"
    strings:
        // eval(Request.Item["x"],"unsafe") and its many spellings: Item(0), Headers, Form, smart quotes
        $eval_req = /\beval\s*\(\s*(System\.Web\.HttpContext\.Current\.|HttpContext\.Current\.|context\.|this\.)?Request(\.Item|\.Form|\.QueryString|\.Headers|\.Params|\.Cookies)?\s*[\[\(]/ nocase
        $eval_var_unsafe = /\beval\s*\(\s*[A-Za-z_][\w.]{0,40}\s*(\[[^\]]{1,40}\]|\([^)]{0,40}\))?\s*,\s*[^,)\w]{1,4}unsafe/ nocase
    condition:
        $eval_req or $eval_var_unsafe
}

rule exaudit_china_chopper_jscript_page
{
    meta:
        title = "JScript server page that evaluates a variable (Chopper-style loader)"
        severity = "critical"
        category = "family"
        family = "china_chopper"
        reference = "https://www.cisa.gov/news-events/analysis-reports/ar21-072a"
    strings:
        $lang = /(Page|WebHandler|WebService)\s+Language\s*=\s*\W{0,3}(JScript|JS|JavaScript)\b/ nocase
        $runat = /<script[^>]{0,80}language\s*=\s*\W{0,3}JScript[^>]{0,80}runat|<script[^>]{0,80}runat\s*=\s*\W{0,3}server[^>]{0,80}language\s*=\s*\W{0,3}JScript/ nocase
        // eval(x, y) with a second argument is the JScript.NET "unsafe" trust switch
        $eval2 = /[^\w.]eval\s*\(\s*[^,()"']{1,60}(\([^()]{0,60}\))?\s*,\s*[^)]{1,60}\)/
        $eval_any = /[^\w.]eval\s*\(\s*[A-Za-z_][\w.]*\s*(\[[^\]]{1,40}\])?\s*\)/
    condition:
        ($lang or $runat) and ($eval2 or $eval_any)
}

rule exaudit_chopper_upload_oneliner
{
    meta:
        title = "China Chopper upload one-liner: saves a posted file to a path chosen by the request"
        severity = "critical"
        category = "family"
        family = "china_chopper"
        reference = "https://www.cisa.gov/news-events/analysis-reports/ar21-072a"
    strings:
        $save = /Files\s*[\[\(]\s*0\s*[\]\)]\s*\.SaveAs\s*\(\s*(Server\.MapPath\s*\(\s*)?Request/ nocase
        $writer = /StreamWriter\s*\(\s*(Server\.MapPath\s*\(\s*)?Request(\.Form|\.Item|\.QueryString)?\s*[\[\(]/ nocase
        $write = /\.Write\s*\(\s*Request(\.Form|\.Item|\.QueryString)?\s*[\[\(]/ nocase
    condition:
        $save or ($writer and $write)
}

rule exaudit_classic_asp_execute_request
{
    meta:
        title = "Classic ASP one-liner: Execute/Eval of request data"
        severity = "critical"
        category = "family"
        family = "china_chopper"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
    strings:
        $exec = /[^\w.](execute|executeglobal|eval)\s*[\( ]\s*request\s*[\(\.]/ nocase
        $script_ctl = /MSScriptControl\.ScriptControl/ nocase
        $stmt = /\.(ExecuteStatement|Eval|Run)\s*\(/ nocase
    condition:
        $exec or ($script_ctl and $stmt)
}

rule exaudit_aspxspy
{
    meta:
        title = "ASPXSpy web shell (file manager, command, SQL, registry, port scan)"
        severity = "critical"
        category = "family"
        family = "aspxspy"
        reference = "https://www.cisa.gov/news-events/cybersecurity-advisories/aa21-062a"
    strings:
        $name = "ASPXSpy" nocase
        $bin1 = "Bin_Button_" ascii
        $bin2 = "Bin_List" ascii
        $bin3 = "Bin_Regread" ascii
        $bin4 = "Bin_PostBack" ascii
        $bin5 = "Bin_Files" ascii
        $bin6 = "Bin_Style_Login" ascii
    condition:
        ($name and any of ($bin*)) or 3 of ($bin*)
}

rule exaudit_regeorg_tunnel
{
    meta:
        title = "reGeorg / Neo-reGeorg / Tunna style HTTP socket tunnel"
        severity = "critical"
        category = "family"
        family = "regeorg"
        reference = "https://www.volexity.com/blog/2021/03/02/active-exploitation-of-microsoft-exchange-zero-day-vulnerabilities/"
    strings:
        $hdr_cmd = "X-CMD" ascii wide
        $hdr_status = "X-STATUS" ascii wide
        $hdr_target = "X-TARGET" ascii wide
        $hdr_error = "X-ERROR" ascii wide
        $verb_connect = "CONNECT" ascii
        $verb_forward = "FORWARD" ascii
        $verb_read = "READ" ascii
        $verb_disconnect = "DISCONNECT" ascii
        $sock = /new\s+(System\.Net\.Sockets\.)?Socket\s*\(/ nocase
        $sock2 = /(TcpClient|\.Connect\s*\(\s*(new\s+)?(System\.Net\.)?IPEndPoint)/ nocase
        $session_sock = /Session\s*[\[\.](Add\s*\()?[^\n]{0,60}(sock|socket|tcp)/ nocase
        $cast_sock = /\(\s*(System\.Net\.Sockets\.)?Socket\s*\)\s*(Context\.|HttpContext\.Current\.)?(Session|Application)\s*\[/
        $input = /Request\.(InputStream|BinaryRead|Headers|Form)/ nocase
        $georg = /(Neo-?reGeorg|Georg says|GeorgHello)/ nocase
    condition:
        (2 of ($hdr*) and 2 of ($verb*))
        or (($sock or $sock2) and ($session_sock or $cast_sock) and $input and 2 of ($verb*))
        or ($georg and ($sock or $sock2))
}

rule exaudit_godzilla
{
    meta:
        title = "Godzilla web shell loader (AES-decrypted assembly cached in Session)"
        severity = "critical"
        category = "family"
        family = "godzilla"
        reference = "https://attack.mitre.org/software/S1031/"
    strings:
        $aes = /(RijndaelManaged|Aes(Managed|CryptoServiceProvider)?|Rijndael)\s*\(\s*\)\s*\.\s*CreateDecryptor/ nocase
        $load = /(Assembly\s*\.\s*Load|GetMethod\s*\(\s*"Load"|typeof\s*\(\s*(System\.Reflection\.)?Assembly\s*\))/ nocase
        $session = /Session\s*\[\s*"[^"]{1,30}"\s*\]/
        $instance = /CreateInstance\s*\(\s*"[A-Za-z]{1,10}"\s*\)/
        $b64req = /FromBase64String\s*\(\s*(Context\.|HttpContext\.Current\.)?Request\s*(\[|\.Form|\.Item|\.Params)/ nocase
        $body = /BinaryRead\s*\(\s*Request\s*\.\s*ContentLength/ nocase
    condition:
        $aes and $load and $b64req and ($session or $instance) and not $body
}

rule exaudit_behinder
{
    meta:
        title = "Behinder (Ice Scorpion) web shell: decrypts the request body and loads it as an assembly"
        severity = "critical"
        category = "family"
        family = "behinder"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
    strings:
        $key = /Session\s*\.\s*Add\s*\(\s*"k"\s*,\s*"[0-9a-f]{16}"\s*\)/ nocase
        $body = /Request\s*\.\s*BinaryRead\s*\(\s*Request\s*\.\s*ContentLength\s*\)/ nocase
        $aes = /CreateDecryptor\s*\(/ nocase
        $load = /Assembly\s*\.\s*Load\s*\(/ nocase
        $equals = /CreateInstance\s*\(\s*"[A-Za-z]{1,10}"\s*\)\s*\.\s*Equals\s*\(\s*this\s*\)/ nocase
    condition:
        ($body and $aes and $load) or $equals or ($key and $load)
}

rule exaudit_webadmin_loader_stub
{
    meta:
        title = "Loader stub that instantiates a compiled backdoor class with a key (WebAdmin2Y style)"
        severity = "critical"
        category = "family"
        family = "compiled_backdoor"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
    strings:
        $family = "WebAdmin2Y" nocase
        $stub = /language\s*=\s*\W{0,3}(C#|VB|CS)\W{0,3}[^>]{0,60}>\s*(\/\/\s*<!\[CDATA\[)?\s*[\w.]{3,80}\s+\w+\s*=\s*new\s+[\w.]{3,80}\s*\(\s*"[0-9A-Za-z]{12,64}"\s*\)\s*;/ nocase
    condition:
        $family or ($stub and filesize < 2KB)
}

rule exaudit_proxyshell_known_params
{
    meta:
        title = "ProxyShell-era shell parameters (exec_code, orangenb, gold8899, eval/*asf)"
        severity = "critical"
        category = "family"
        family = "proxyshell_dropper"
        reference = "https://www.huntress.com/blog/rapid-response-microsoft-exchange-servers-still-vulnerable-to-proxyshell-exploit"
    strings:
        $p1 = "exec_code" ascii wide
        $p2 = "orangenb" ascii wide
        $p3 = "gold8899" ascii wide
        $p4 = ");eval/*asf" ascii wide
        $req = "Request" ascii wide nocase
        $eval = "eval" ascii wide nocase
    condition:
        $p4 or (any of ($p1, $p2, $p3) and $req and $eval)
}

rule exaudit_drophell_xslt
{
    meta:
        title = "XSLT transform of base64 request data (DropHell style)"
        severity = "critical"
        category = "family"
        family = "drophell"
        reference = "https://www.deepinstinct.com/blog/"
    strings:
        $loadxml = /LoadXml\s*\(\s*(System\.Text\.)?Encoding\.\w+\.GetString\s*\(\s*(System\.)?Convert\.FromBase64String\s*\(\s*Request/ nocase
        $xslt = /(XslCompiledTransform|XslTransform)/ nocase
        $transform = ".Transform(" nocase
        $xml_req = /\.Load(Xml)?\s*\([^;]{0,160}Request/ nocase
    condition:
        $loadxml or ($xslt and $transform and $xml_req)
}
