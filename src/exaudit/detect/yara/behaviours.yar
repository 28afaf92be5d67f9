/*
    exaudit — web shell behaviours in ASP, ASPX, ASHX, ASMX pages (any family, renamed or obfuscated).

    "behaviour" rules describe request data reaching a code-execution sink; one hit means a web shell (high).
    "capability" rules describe one thing a page can do (run a process, browse files, open sockets …);
    a single capability is common in legitimate admin pages, so exaudit only raises the severity when
    several of them meet in one page (see exaudit.detect.webshell_rules.combine).
    References: ATT&CK T1505.003; cert-lv detect_webshells.ps1 keyword list (eval, jscript,
    convert.frombase64string, httppostedfile, processstartinfo, cmd /c, new socket, assembly.load,
    compileassemblyfromsource); Microsoft MSTIC web shell guidance (2021).
*/

rule exaudit_behaviour_assembly_load_from_request
{
    meta:
        title = "Loads a .NET assembly from request data (in-memory web shell loader)"
        severity = "high"
        category = "behaviour"
    strings:
        $load = /(Assembly\s*\.\s*Load\s*\(|GetMethod\s*\(\s*"Load"|AppDomain\.CurrentDomain\.Load\s*\()/ nocase
        $src1 = /Request\s*\.\s*(BinaryRead|InputStream|Form|Item|Params|Headers|QueryString|Files)/ nocase
        $src2 = /Request\s*\[/ nocase
        $b64 = /FromBase64String/ nocase
        $crypt = /CreateDecryptor/ nocase
    condition:
        $load and ($src1 or $src2) and ($b64 or $crypt or $src1)
}

rule exaudit_behaviour_compile_from_request
{
    meta:
        title = "Compiles and runs source code at run time (CodeDom / JScript eval engine)"
        severity = "high"
        category = "behaviour"
    strings:
        $compile = /(CompileAssemblyFromSource|CSharpCodeProvider|VBCodeProvider|JScriptCodeProvider|Microsoft\.JScript\.Eval|Microsoft\.JScript\.Vsa)/ nocase
        $req = /Request\s*(\.|\[)/ nocase
        $invoke = /(\.Invoke\s*\(|CreateInstance\s*\(|CompiledAssembly)/ nocase
    condition:
        $compile and $req and $invoke
}

rule exaudit_behaviour_wscript_shell
{
    meta:
        title = "Runs commands through WScript.Shell / Shell.Application"
        severity = "high"
        category = "behaviour"
    strings:
        $obj = /(CreateObject|ActiveXObject|Server\.CreateObject|GetTypeFromProgID)\s*\(\s*\W{0,2}(WScript\.Shell|Shell\.Application|WScript\.Network)/ nocase
        $exec = /\.(exec|run|ShellExecute)\s*\(/ nocase
    condition:
        $obj and $exec
}

rule exaudit_behaviour_cmd_from_request
{
    meta:
        title = "Starts cmd.exe or PowerShell with arguments taken from the request"
        severity = "high"
        category = "behaviour"
    strings:
        $proc = /(ProcessStartInfo|Process\s*\.\s*Start\s*\(|new\s+(System\.Diagnostics\.)?Process\s*\(|CreateProcess(AsUser|WithLogonW)?\s*\()/ nocase
        $shell = /["'\\](cmd(\.exe)?|powershell(\.exe)?|pwsh(\.exe)?|\/bin\/sh|c:\\\\windows\\\\system32\\\\cmd\.exe)["']/ nocase
        $slash_c = /["'](\/c|\/k|-c|-enc|-EncodedCommand|-command)\s/ nocase
        $args_req = /(Arguments|FileName|Start\s*\()\s*[=(,]?[^;\n]{0,80}(Request\s*[\[\.(]|\.Text\b|ParseQueryString|\bcommand\b|\bcmd\b\s*[+)])/ nocase
        $redirect = /RedirectStandardOutput\s*=\s*true/ nocase
    condition:
        $proc and ($shell or $slash_c) and $args_req and ($redirect or $slash_c)
}

rule exaudit_behaviour_base64_hidden_code
{
    meta:
        title = "Request access or eval hidden in base64 text"
        severity = "high"
        category = "behaviour"
    strings:
        $r1 = "Request.Item" base64
        $r2 = "Request.Form" base64
        $r3 = "Request[" base64
        $r4 = "eval(" base64
        $r5 = "unsafe" base64
        $r6 = "cmd.exe" base64
        $r7 = "Request.QueryString" base64
        $from = /FromBase64String\s*\(/ nocase
    condition:
        $from and any of ($r*)
}

rule exaudit_behaviour_script_writer
{
    meta:
        title = "Writes a new server page that contains request-driven code (web shell dropper)"
        severity = "high"
        category = "behaviour"
    strings:
        $write = /(File\.(CreateText|WriteAllText|AppendAllText)|new\s+StreamWriter|\.SaveAs)\s*\(/ nocase
        $page = /(<%@|<%=|<%\s|runat\s*=\s*\\?["']?server|Page\s+Language)/ nocase
        $payload = /(eval\s*\(\s*Request|execute\s+request|execute\s*\(\s*request|eval\s*\(\s*request|Request\.Item)/ nocase
    condition:
        $write and $page and $payload
}

rule exaudit_behaviour_native_exec
{
    meta:
        title = "Calls native process-creation or shellcode APIs from a page"
        severity = "high"
        category = "behaviour"
    strings:
        $imp = /(DllImport\s*\(\s*"|Declare\s+(Ansi\s+|Auto\s+|Unicode\s+)?(Function|Sub)\s+\w+\s+Lib\s+")(kernel32|advapi32|ntdll|shell32)(\.dll)?"/ nocase
        $api = /(VirtualAlloc|CreateThread|CreateRemoteThread|WriteProcessMemory|CreateProcessAsUser|CreateProcessWithLogonW|WinExec|ShellExecute|LogonUser|DuplicateTokenEx|ImpersonateLoggedOnUser)/
        $page = /(<%@|runat\s*=\s*["']?server|WebHandler|WebService)/ nocase
    condition:
        $page and $imp and $api
}

rule exaudit_behaviour_eval_request_generic
{
    meta:
        title = "Evaluates text taken from the request (any script language)"
        severity = "high"
        category = "behaviour"
    strings:
        $e1 = /[^\w.](eval|Execute|ExecuteGlobal)\s*\(\s*[^)]{0,40}Request(\.Item|\.Form|\.QueryString|\.Params|\.Headers)?\s*[\[\(]/ nocase
        $e2 = /[^\w.]eval\s*\(\s*(HttpContext\.Current|context|ctx|c|I)\.Request/ nocase
    condition:
        any of them
}


rule exaudit_behaviour_write_user_path
{
    meta:
        title = "Writes visitor-supplied content to a server path typed by the visitor"
        severity = "high"
        category = "behaviour"
    strings:
        $path_ctl = /(new\s+(System\.IO\.)?(StreamWriter|FileInfo|FileStream)|File\.(CreateText|WriteAllText|WriteAllBytes|AppendAllText|Create)|\.SaveAs)\s*\(\s*(this\.)?[A-Za-z_]\w*\.Text\s*[,)]/ nocase
        $path_req = /(new\s+(System\.IO\.)?(StreamWriter|FileInfo|FileStream)|File\.(CreateText|WriteAllText|WriteAllBytes|AppendAllText|Create)|\.SaveAs)\s*\(\s*(Server\.MapPath\s*\(\s*)?Request(\.Form|\.QueryString|\.Params|\.Item)?\s*[\[\(]/ nocase
        $content = /\.Write(Line)?\s*\(\s*((this\.)?[A-Za-z_]\w*\.(Text|Value)|Request(\.Form|\.QueryString|\.Params|\.Item)?\s*[\[\(])/ nocase
        $upload = /(PostedFile|Request\.Files|FileUpload\w*|HttpPostedFile)/ nocase
    condition:
        ($path_ctl or $path_req) and ($content or $upload)
}

rule exaudit_behaviour_command_runner
{
    meta:
        title = "Interactive command runner: program or command line chosen by the visitor, output returned"
        severity = "high"
        category = "behaviour"
    strings:
        $proc = /(new\s+(System\.Diagnostics\.)?Process\s*\(\s*\)|ProcessStartInfo)/ nocase
        $redirect = /RedirectStandard(Output|Input)\s*=\s*true/ nocase
        $file_var = /FileName\s*=\s*(this\.)?[A-Za-z_][\w.]*\s*;/
        $stdin_var = /StandardInput\.Write(Line)?\s*\(\s*(this\.)?[A-Za-z_][\w.]*\s*\)/
        $args_shell = /Arguments\s*=\s*["'](\/c|\/k|-c|-command)\s*["']?\s*\+/ nocase
        $psi_var = /ProcessStartInfo\s*\(\s*[A-Za-z_][\w.]*(\.Substring\s*\([^)]*\))?\s*[,)]/
        $input = /(Request\s*[\[\.]|\.Text\b|ParseQueryString)/ nocase
        $webmethod = /\[\s*WebMethod/ nocase
        $file_input = /(FileName\s*=|ProcessStartInfo\s*\()\s*((this\.)?[A-Za-z_]\w*\.Text\b|Request\s*[\[\.(])/ nocase
        $redirect_in = /RedirectStandardInput\s*=\s*true/ nocase
    condition:
        $proc and $redirect and (
            ($input and ($stdin_var or $args_shell or $file_input or ($file_var and $redirect_in)))
            or ($psi_var and $webmethod)
        )
}

rule exaudit_behaviour_packet_sniffer
{
    meta:
        title = "Raw-socket packet sniffer inside a web page (credential capture)"
        severity = "high"
        category = "behaviour"
    strings:
        $raw = /SocketType\.Raw/ nocase
        $rcv = /(IOControl\s*\(|ReceiveAll|SIO_RCVALL)/ nocase
    condition:
        $raw and $rcv
}

rule exaudit_cap_sql_console
{
    meta:
        title = "Runs SQL or connects to a database server chosen by the visitor"
        severity = "low"
        category = "capability"
        capability = "sql_console"
    strings:
        $conn_host = /(Server|Host|Data\s*Source)\s*=\s*(\{\d\}|["']\s*\+)/ nocase
        $conn_user = /(uid|user\s*id|user\s*name|pwd|password)\s*=\s*(\{\d\}|["']\s*\+)/ nocase
        $conn_req = /(SqlConnection|OleDbConnection|MySqlConnection|OdbcConnection)\s*\(\s*(Request|(this\.)?\w+\.Text\b)/ nocase
        $param = /Request(\.QueryString|\.Form|\.Params|\.Item)?\s*\[\s*"(sql|query|conn|connstr|connection|dbconn)"\s*\]/ nocase
        $cmd_req = /(SqlCommand|OleDbCommand|MySqlCommand|OdbcCommand)\s*\(\s*(Request|(this\.)?\w+\.Text\b)/ nocase
        $conn_text = /ConnectionString\s*=\s*(Request|(this\.)?\w+\.Text\b)/ nocase
    condition:
        ($conn_host and $conn_user) or $conn_req or $param or $cmd_req or $conn_text
}

rule exaudit_cap_auth_gate
{
    meta:
        title = "Hard-coded password compared with visitor input (shell login gate)"
        severity = "low"
        category = "capability"
        capability = "auth_gate"
    strings:
        $a = /(const\s+string|string)\s+(AUTHKEY|PASS(WORD|WD)?|pwd|key)\s*=\s*"[^"]{3,40}"\s*;/ nocase
        $b = /(Request(\.Form|\.QueryString|\.Params|\.Item|\.Cookies)?\s*\[[^\]]{1,30}\]|\.Text)\s*(!=|==)\s*[A-Z_]{3,20}\b/
        $c = /\w+\.Equals\s*\(\s*(this\.)?\w+\.Text\s*\)/
    condition:
        $a and ($b or $c)
}


rule exaudit_behaviour_registry_browser
{
    meta:
        title = "Registry browser for the visitor (any hive, key chosen by the request)"
        severity = "high"
        category = "behaviour"
    strings:
        $h1 = "HKEY_LOCAL_MACHINE" nocase
        $h2 = "HKEY_CURRENT_USER" nocase
        $h3 = "HKEY_CLASSES_ROOT" nocase
        $h4 = "HKEY_USERS" nocase
        $open = /OpenSubKey\s*\(/ nocase
        $req = /(Request\s*[\[\.]|\.Text\b)/ nocase
    condition:
        3 of ($h*) and $open and $req
}

rule exaudit_behaviour_writable_probe
{
    meta:
        title = "Probes which server folders are writable (creates test files while walking folders)"
        severity = "high"
        category = "behaviour"
    strings:
        $probe = /File\.(Create|Open(Write)?)\s*\([^;]{0,120}\)\s*\.CanWrite/ nocase
        $walk = /(GetDirectories|GetFileSystemInfos|EnumerateDirectories)\s*\(/ nocase
    condition:
        $probe and $walk
}


rule exaudit_behaviour_xslt_script
{
    meta:
        title = "Runs script embedded in an XSLT stylesheet with scripting enabled"
        severity = "high"
        category = "behaviour"
    strings:
        $msxsl = "msxsl:script" nocase
        $trusted = /(XsltSettings\.TrustedXslt|EnableScript\s*=\s*true|new\s+XsltSettings\s*\(\s*\w+\s*,\s*true\s*\))/ nocase
        $compiled = "XslCompiledTransform" nocase
    condition:
        $msxsl and $trusted and $compiled
}


rule exaudit_behaviour_vbscript_dynamic_exec
{
    meta:
        title = "Classic ASP executes code built from request, session or decoded data"
        severity = "high"
        category = "behaviour"
    strings:
        $dyn = /[^\w.](execute|executeglobal)\s*[\( ]\s*[A-Za-z_(]/ nocase
        $src = /(request\s*[\(\.]|session\s*\(|BinaryRead|StrReverse\s*\(|ChrW?\s*\(|unescape\s*\()/ nocase
        $asp = "<%"
        $dotnet = /Language\s*=\s*\W{0,2}(C#|cs|csharp|JScript|JS|javascript)\b/ nocase
    condition:
        $asp and $dyn and $src and not $dotnet and filesize < 64KB
}

rule exaudit_behaviour_utf7_page
{
    meta:
        title = "ASP page declared as UTF-7 (code page 65000) to hide its script from scanners"
        severity = "high"
        category = "behaviour"
    strings:
        $cp = /<%@[^%]{0,60}codepage\s*=\s*["']?65000/ nocase
    condition:
        $cp
}

/* ---------------------------------------------------------------- capabilities (combined in Python) */

rule exaudit_cap_exec
{
    meta:
        title = "Starts processes and reads their output"
        severity = "low"
        category = "capability"
        capability = "exec"
    strings:
        $a = /(ProcessStartInfo|Process\s*\.\s*Start\s*\(|new\s+(System\.Diagnostics\.)?Process\s*\(\s*\))/ nocase
        $c = "RedirectStandardOutput" nocase
    condition:
        $a and $c
}

rule exaudit_cap_shell_exec
{
    meta:
        title = "Starts a command shell (cmd, PowerShell, WScript.Shell)"
        severity = "low"
        category = "capability"
        capability = "shell_exec"
    strings:
        $a = /(ProcessStartInfo|Process\s*\.\s*Start\s*\(|new\s+(System\.Diagnostics\.)?Process\s*\(\s*\)|\.StartInfo)/ nocase
        $b = /["'\\](cmd|powershell|pwsh)(\.exe)?["'\\ ]/ nocase
        $d = /(WScript\.Shell|Shell\.Application|CreateProcess(AsUser|WithLogonW)?\s*\()/ nocase
    condition:
        ($a and $b) or $d
}

rule exaudit_cap_filesystem
{
    meta:
        title = "Browses, edits, uploads or deletes files and folders"
        severity = "low"
        category = "capability"
        capability = "files"
    strings:
        $list = /(Directory\.GetFiles|Directory\.GetDirectories|\.GetFileSystemInfos|DirectoryInfo\s*\(|GetLogicalDrives|DriveInfo\.GetDrives|Scripting\.FileSystemObject)/ nocase
        $mod1 = /(File\.Delete|Directory\.Delete|File\.Move|File\.Copy|\.SetAttributes|File\.SetLastWriteTime|File\.SetCreationTime|\.CreationTime\s*=|\.LastWriteTime\s*=)/ nocase
        $mod2 = /(File\.WriteAll(Text|Bytes)|File\.Create(Text)?\s*\(|new\s+StreamWriter|\.SaveAs\s*\(|Request\.Files|PostedFile|HttpPostedFile|TransmitFile|WriteFile\s*\()/ nocase
        $upload = /(PostedFile|Request\.Files)/ nocase
        $store = /(new\s+FileStream|\.SaveAs\s*\(|WriteAllBytes)/ nocase
    condition:
        ($list and ($mod1 or $mod2)) or ($mod1 and $mod2) or ($upload and $store)
}

rule exaudit_cap_sql
{
    meta:
        title = "Runs SQL given by the user against a database of its choice"
        severity = "low"
        category = "capability"
        capability = "sql"
    strings:
        $conn = /(SqlConnection|OleDbConnection|OdbcConnection|MySqlConnection|ADODB\.Connection)/ nocase
        $exec = /(ExecuteReader|ExecuteNonQuery|ExecuteScalar|\.Fill\s*\(|\.Execute\s*\()/ nocase
        $xp = /(xp_cmdshell|sp_oacreate|sp_configure|OPENROWSET)/ nocase
    condition:
        ($conn and $exec) or $xp
}

rule exaudit_cap_network
{
    meta:
        title = "Opens raw sockets or scans ports"
        severity = "low"
        category = "capability"
        capability = "network"
    strings:
        $a = /(new\s+(System\.Net\.Sockets\.)?(Socket|TcpClient|TcpListener|UdpClient)\s*\(|\.BeginConnect\s*\()/ nocase
        $b = /(portscan|port\s*scan|ScanPort|\.Connect\s*\(\s*(ip|host|addr))/ nocase
        $c = /Import\s+Namespace\s*=\s*"System\.Net\.Sockets"/ nocase
    condition:
        any of them
}

rule exaudit_cap_registry
{
    meta:
        title = "Reads or writes the Windows registry"
        severity = "low"
        category = "capability"
        capability = "registry"
    strings:
        $a = /(Registry\.(LocalMachine|CurrentUser|Users|ClassesRoot)|RegistryKey|OpenSubKey|WScript\.Shell[^\n]{0,80}RegRead)/ nocase
    condition:
        $a
}

rule exaudit_cap_system_recon
{
    meta:
        title = "Enumerates users, services, processes or WMI"
        severity = "low"
        category = "capability"
        capability = "recon"
    strings:
        $a = /(ManagementObjectSearcher|Win32_(Process|Service|UserAccount|OperatingSystem|LogicalDisk)|WinNT:\/\/|Process\.GetProcesses|ServiceController\.GetServices|Environment\.GetEnvironmentVariables|IIS:\/\/|IIsWebServer|LDAP:\/\/)/ nocase
    condition:
        $a
}

rule exaudit_cap_shell_ui
{
    meta:
        title = "Page text typical of web shell user interfaces"
        severity = "low"
        category = "capability"
        capability = "shell_ui"
    strings:
        $c = /(\xe5\xb0\x8f\xe9\xa9\xac|\xe5\xa4\xa7\xe9\xa9\xac|\xe6\x9c\xa8\xe9\xa9\xac|\xe4\xb8\x80\xe5\x8f\xa5\xe8\xaf\x9d|hacker|web\s?sniff|sniffer\b|packet\s+capture)/ nocase
        $a = /(web\s?shell|cmdshell|shell\s+command|command\s+shell|exec(ute)?\s+command|whoami|net\s+user|net\s+localgroup|hacked|backdoor|Clone\s+Time|kill\s+me|Suicide)/ nocase
        $b = /(\bcmd\.exe\b|\/c\s+dir\b|c:\\\\windows\\\\system32)/ nocase
    condition:
        any of them
}

rule exaudit_cap_obfuscation
{
    meta:
        title = "Obfuscated or encoded script"
        severity = "low"
        category = "capability"
        capability = "obfuscation"
    strings:
        $hexkey = /(Request(\.Item|\.Form|\.QueryString)?\s*[\[\(]\s*["']\\x[0-9a-fA-F]{2}|eval\s*\([^)]{0,80}["']\\x[0-9a-fA-F]{2})/ nocase
        $chr = /(Chr[W]?\s*\(\s*\d{2,3}\s*\)\s*[&+]\s*){6,}/ nocase
        $fromchar = /(String\.fromCharCode|Char\s*\)\s*\d{2,3}\s*\+){1}/ nocase
        $concat_sink = /["'](ev|Ev|EV)["']\s*[&+]\s*["'](al|AL)["']/
        $gif = { 47 49 46 38 39 61 }
        $strrev = /StrReverse\s*\(/ nocase
    condition:
        $concat_sink or ($gif at 0) or $hexkey or $chr or ($fromchar and $strrev)
}
