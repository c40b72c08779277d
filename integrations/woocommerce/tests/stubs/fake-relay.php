<?php
/**
 * A stand-in for the relay's store API, answering the plugin's HTTP requests as the contract says.
 *
 * The contract (DESIGN.md "The WooCommerce gateway plugin"; README "HTTP interface"): every route
 * is under /api/v1/stores/<store>/ and takes `Authorization: Bearer <api_token>`; an unknown store
 * answers 404 `unknown_store`, a wrong token 401 `unauthorized`; errors are
 * `{"error": {"code", "message"}}`. POST invoices answers the invoice JSON, 201 opened / 200 the
 * order's open one; after the order's invoice expired unpaid a new one is opened. GET
 * invoices/<id> answers one of this store's invoices, 404 `not_found` for any other id. POST
 * orders/<id>/refunds answers the refund JSON (address_url), 201 / 200 for a known refund id.
 *
 * @package Relay_Payments\Tests
 */

// phpcs:disable WordPress.NamingConventions, Squiz.Commenting

final class Fake_Relay {
	const URL = 'https://relay.test';

	public $store = 'main';
	public $token = 'secret-token';
	/** @var array<string, array<string, mixed>> Invoices by id, in any store. */
	public $invoices = array();
	/** @var array<string, array<string, mixed>> Refunds by "order:refund id". */
	public $refunds = array();
	/** @var array<string, mixed>|null The body of the last POST. */
	public $last_body = null;
	private $counter  = 0;

	public function install() {
		WP_Test_State::$http = array( $this, 'answer' );
		return $this;
	}

	/** Add an invoice as the relay would hold it; answers its id. */
	public function add_invoice( array $fields ) {
		$id                    = isset( $fields['id'] ) ? $fields['id'] : 'inv_' . ( ++$this->counter ) . 'x' . substr( md5( (string) $this->counter ), 0, 8 );
		$this->invoices[ $id ] = array_merge(
			array(
				'id'                 => $id,
				'store'              => $this->store,
				'order_id'           => '0',
				'order_number'       => null,
				'status'             => 'new',
				'exception'          => null,
				'currency'           => 'EUR',
				'amount'             => '25.00',
				'created_at'         => '2026-01-01T10:00:00Z',
				'expires_at'         => '2026-01-01T10:30:00Z',
				'monitoring_ends_at' => '2026-01-02T10:30:00Z',
				'payment_url'        => self::URL . '/pay/token-' . $id,
				'options'            => array(),
				'payments'           => array(),
			),
			$fields,
			array( 'id' => $id )
		);
		return $id;
	}

	/** Settle an invoice with one payment. */
	public function settle( $id, $tx_hash, $exception = null ) {
		$this->invoices[ $id ]['status']    = 'settled';
		$this->invoices[ $id ]['exception'] = $exception;
		$this->invoices[ $id ]['payments']  = array(
			array(
				'chain'             => 'ethereum',
				'asset'             => 'USDC',
				'tx_hash'           => $tx_hash,
				'log_index'         => 0,
				'block_number'      => 100,
				'amount_base_units' => '25000000',
				'confirmations'     => 12,
				'state'             => 'counted',
			),
		);
	}

	public function answer( $method, $url, $args ) {
		$path = (string) parse_url( $url, PHP_URL_PATH );
		if ( 0 !== strpos( $url, self::URL . '/' ) || 1 !== preg_match( '#^/api/v1/stores/([^/]+)(/.*)$#', $path, $m ) ) {
			return relay_test_response( 404, '<html>Not Found</html>' );
		}
		$store = rawurldecode( $m[1] );
		$tail  = $m[2];
		if ( $store !== $this->store ) {
			return self::error( 404, 'unknown_store', "no store named '$store'" );
		}
		$auth = isset( $args['headers']['Authorization'] ) ? $args['headers']['Authorization'] : '';
		if ( 'Bearer ' . $this->token !== $auth ) {
			return self::error( 401, 'unauthorized', 'wrong bearer token for this store' );
		}
		if ( 'POST' === $method ) {
			$this->last_body = json_decode( $args['body'], true );
		}
		if ( 'GET' === $method && 1 === preg_match( '#^/invoices/([^/]+)$#', $tail, $i ) ) {
			$id = rawurldecode( $i[1] );
			if ( ! isset( $this->invoices[ $id ] ) || $this->invoices[ $id ]['store'] !== $store ) {
				return self::error( 404, 'not_found', 'no such invoice' );
			}
			return relay_test_response( 200, $this->invoices[ $id ] );
		}
		if ( 'POST' === $method && '/invoices' === $tail ) {
			return $this->open( $this->last_body );
		}
		if ( 'POST' === $method && 1 === preg_match( '#^/orders/([^/]+)/refunds$#', $tail, $o ) ) {
			return $this->refund( rawurldecode( $o[1] ), $this->last_body );
		}
		return self::error( 404, 'not_found', 'no such route' );
	}

	private function open( $body ) {
		if ( ! is_array( $body ) || empty( $body['order_id'] ) || empty( $body['amount'] ) || empty( $body['currency'] ) ) {
			return self::error( 422, 'invoice_error', 'the order cannot get an invoice: order_id, amount and currency are required' );
		}
		$newest = null;
		foreach ( $this->invoices as $invoice ) {
			if ( $invoice['store'] === $this->store && $invoice['order_id'] === $body['order_id'] ) {
				$newest = $invoice;
			}
		}
		if ( null !== $newest && ! in_array( $newest['status'], array( 'expired', 'invalid' ), true ) ) {
			return relay_test_response( 200, $newest );
		}
		$id = $this->add_invoice(
			array(
				'order_id' => $body['order_id'],
				'amount'   => $body['amount'],
				'currency' => $body['currency'],
			)
		);
		return relay_test_response( 201, $this->invoices[ $id ] );
	}

	private function refund( $order_id, $body ) {
		$paid = false;
		$seen = false;
		foreach ( $this->invoices as $invoice ) {
			if ( $invoice['store'] === $this->store && $invoice['order_id'] === $order_id ) {
				$seen = true;
				$paid = $paid || 'settled' === $invoice['status'];
			}
		}
		if ( ! $seen ) {
			return self::error( 404, 'not_found', 'the order has no invoice' );
		}
		if ( ! $paid ) {
			return self::error( 409, 'conflict', 'the order was not paid' );
		}
		$key = $order_id . ':' . $body['id'];
		if ( isset( $this->refunds[ $key ] ) ) {
			return relay_test_response( 200, $this->refunds[ $key ] );
		}
		$number                = count( $this->refunds ) + 1;
		$this->refunds[ $key ] = array(
			'id'          => 'ref_' . $number,
			'order_id'    => $order_id,
			'external_id' => (string) $body['id'],
			'status'      => 'awaiting_address',
			'amount'      => $body['amount'],
			'reason'      => $body['reason'],
			'address_url' => self::URL . '/refund/token-' . $number,
		);
		return relay_test_response( 201, $this->refunds[ $key ] );
	}

	private static function error( $status, $code, $message ) {
		return relay_test_response(
			$status,
			array(
				'error' => array(
					'code'    => $code,
					'message' => $message,
				),
			)
		);
	}
}
