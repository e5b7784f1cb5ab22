// Alarms: state, reason and definition of each, and the history of
// transitions (AlarmStateChanged events from the archive), live.
import { api, must } from "../api/client";
import { Badge, ErrorNotice, Loading, PageTitle } from "../components/ui";
import { useLive } from "../live";
import { ago, dateTime, useAsync } from "../util";

export function Alarms() {
  const alarms = useAsync(() => must(api.GET("/api/alarms")), []);
  const hist = useAsync(
    () => must(api.GET("/api/events", { params: { query: { source: "orderly.alarms", detailType: "AlarmStateChanged", limit: 100 } } })),
    [],
  );
  useLive((kind) => {
    if (kind === "alarm" || kind === "poll" || kind === "reset") {
      alarms.reload();
      hist.reload();
    }
  });
  return (
    <div>
      <PageTitle>Alarms</PageTitle>
      <ErrorNotice error={alarms.error} />
      {!alarms.data ? (
        <Loading />
      ) : (
        <div class="table-wrap">
          <table aria-label="alarms" data-testid="alarms-table">
            <thead>
              <tr>
                <th>Alarm</th>
                <th>State</th>
                <th>Condition</th>
                <th>Reason</th>
                <th>Since</th>
              </tr>
            </thead>
            <tbody>
              {alarms.data.alarms.map((a) => (
                <tr key={a.name}>
                  <td>
                    <strong>{a.name}</strong>
                    {a.description && <div class="muted small">{a.description}</div>}
                  </td>
                  <td>
                    <Badge value={a.state} />
                  </td>
                  <td class="small">
                    <code>
                      {a.statistic}({a.metric}) {a.comparisonOperator.replace("Threshold", "")} {a.threshold}
                    </code>
                    <div class="muted">
                      {a.periodSeconds} s × {a.evaluationPeriods}, missing data: {a.treatMissingData}
                    </div>
                  </td>
                  <td class="small">{a.stateReason}</td>
                  <td class="small nowrap" title={dateTime(a.stateUpdatedTimestamp)}>
                    {ago(a.stateUpdatedTimestamp)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Transitions</h2>
      <ErrorNotice error={hist.error} />
      {!hist.data ? (
        <Loading />
      ) : (
        <div class="table-wrap">
          <table aria-label="alarm transitions">
            <thead>
              <tr>
                <th>Time</th>
                <th>Alarm</th>
                <th>From</th>
                <th>To</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {hist.data.events.map((e) => {
                const d = e.event.detail as {
                  alarmName?: string;
                  state?: { value?: string; reason?: string };
                  previousState?: { value?: string };
                };
                return (
                  <tr key={e.id}>
                    <td class="nowrap small">{dateTime(e.time)}</td>
                    <td>{d.alarmName}</td>
                    <td>
                      <Badge value={d.previousState?.value} />
                    </td>
                    <td>
                      <Badge value={d.state?.value} />
                    </td>
                    <td class="small">{d.state?.reason}</td>
                  </tr>
                );
              })}
              {!hist.data.events.length && (
                <tr>
                  <td colSpan={5} class="muted">
                    No transitions yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
