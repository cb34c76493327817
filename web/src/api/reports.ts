// Reporting content, with the franking opening that proves what was sent.
import type { Http } from "./http";
import type { NewReport, Report } from "./types";

export class ReportsApi {
  constructor(private readonly http: Http) {}

  create(report: NewReport): Promise<Report> {
    return this.http.request("POST", "/v1/reports", { body: report });
  }
}
