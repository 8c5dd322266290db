// Fetch posts a form to a URL with the JDK's own HTTP client and prints the
// status and body: what `aadproxy run -- java` must wire (proxy properties
// and a trust store) without the program knowing.
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;

public class Fetch {
    public static void main(String[] args) throws Exception {
        HttpURLConnection c = (HttpURLConnection) new URL(args[0]).openConnection();
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.setRequestProperty("Content-Type", "application/x-www-form-urlencoded");
        c.getOutputStream().write(args[1].getBytes(StandardCharsets.UTF_8));
        int code = c.getResponseCode();
        InputStream in = code >= 400 ? c.getErrorStream() : c.getInputStream();
        System.out.println(code + " " + new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
}
