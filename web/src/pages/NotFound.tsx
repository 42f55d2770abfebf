import { Link } from 'wouter';
import { Page } from '../components/Page';

export default function NotFound() {
  return (
    <Page title="Page not found">
      <p>
        There is no page at this address. Go to <Link href="/jobs">your jobs</Link>.
      </p>
    </Page>
  );
}
