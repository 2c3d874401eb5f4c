// CxOAuth: System.Diagnostics.Metrics instruments over OAuthClient.Metrics("json"), where the
// target framework has them (.NET 6 and later: the net8.0 target of CxOAuth.csproj). The
// netstandard2.0 target and Mono (the CI's mcs build) compile this file to nothing: use
// OAuthClient.Metrics(format) and OnEvent there.
#if NET6_0_OR_GREATER
using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Text.Json;

namespace CxOAuth
{
    /// <summary>A <see cref="Meter"/> named "CxOAuth" whose observable instruments read the
    /// client's metrics at each collection: every counter family as an ObservableCounter,
    /// every gauge as an ObservableGauge (tags: the library's labels), every histogram's
    /// <c>_count</c> and <c>_sum</c> as ObservableCounters (an observable histogram does not
    /// exist in System.Diagnostics.Metrics). Dispose it before the client.</summary>
    public sealed class CxOAuthMeter : IDisposable
    {
        readonly OAuthClient client;

        /// <summary>The meter (for a MeterListener or OpenTelemetry's AddMeter("CxOAuth")).</summary>
        public Meter Meter { get; }

        /// <summary>Instruments for <paramref name="client"/>'s families (those present now).</summary>
        public CxOAuthMeter(OAuthClient client)
        {
            this.client = client ?? throw new ArgumentNullException(nameof(client));
            Meter = new Meter("CxOAuth", "0.3");
            using (var doc = JsonDocument.Parse(client.Metrics("json")))
            {
                foreach (var fam in doc.RootElement.GetProperty("families").EnumerateArray())
                {
                    var name = fam.GetProperty("name").GetString();
                    var type = fam.GetProperty("type").GetString();
                    var help = fam.GetProperty("help").GetString();
                    if (type == "counter")
                        Meter.CreateObservableCounter(name, () => Read(name), null, help);
                    else if (type == "gauge")
                        Meter.CreateObservableGauge(name, () => Read(name), null, help);
                    else if (type == "histogram")
                    {
                        Meter.CreateObservableCounter(name + "_count", () => Read(name + "_count"), null, help);
                        Meter.CreateObservableCounter(name + "_sum", () => Read(name + "_sum"), "s", help);
                    }
                }
            }
        }

        /// <summary>The samples named <paramref name="sample"/> now, with their labels as tags.</summary>
        IEnumerable<Measurement<double>> Read(string sample)
        {
            var list = new List<Measurement<double>>();
            string text;
            try { text = client.Metrics("json"); }
            catch (ObjectDisposedException) { return list; }
            using (var doc = JsonDocument.Parse(text))
            {
                foreach (var fam in doc.RootElement.GetProperty("families").EnumerateArray())
                    foreach (var s in fam.GetProperty("samples").EnumerateArray())
                    {
                        if (s.GetProperty("name").GetString() != sample) continue;
                        var tags = new List<KeyValuePair<string, object>>();
                        foreach (var l in s.GetProperty("labels").EnumerateObject())
                            tags.Add(new KeyValuePair<string, object>(l.Name, l.Value.GetString()));
                        list.Add(new Measurement<double>(s.GetProperty("value").GetDouble(), tags.ToArray()));
                    }
            }
            return list;
        }

        /// <summary>Disposes the meter (its instruments stop reporting).</summary>
        public void Dispose() { Meter.Dispose(); }
    }
}
#endif
